//! SCIM attribute names of a filter, resolved through the shared model.
//!
//! Names, URN prefixes and caseExact come from `scim_model`'s catalogue, and where a
//! value is kept from its stored-field mapping; this module only decides how each
//! kind of place is compared. What the model has no place for, `password` and
//! `meta.location` included, is refused as unknown.

pub use scim_model::ResourceKind;
use scim_model::stored::locate;
pub use scim_model::stored::{Container, EnterpriseField, Field, NameField, Stored};
use scim_model::{AttrPath, AttrType};

/// Where an attribute's values come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// A stored place (one that holds comparable values; `manager` means
    /// `manager.value`, a bare multi-valued name its `value`).
    At(Stored),
    /// The container itself (bare `addresses`): only presence can be tested.
    AnyOf(Container),
    /// A sub-attribute of the current value, inside a value path filter.
    Elem(Field),
}

/// The type of an attribute's values, which decides the legal operators and literals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// A string.
    Str,
    /// A boolean: `eq`, `ne`, `pr` only.
    Bool,
    /// A dateTime, compared chronologically.
    Time,
    /// `meta.version`, compared numerically.
    Version,
    /// A whole complex attribute: `pr` only.
    Presence,
}

/// A resolved attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    /// Where the values come from.
    pub path: Path,
    /// Their type.
    pub ty: Type,
    /// Whether string comparison is case-exact.
    pub case_exact: bool,
    /// The attribute in the catalogue, for its canonical name in errors and spans.
    pub name: AttrPath,
}

impl Attr {
    /// The canonical SCIM name.
    pub fn canonical(&self) -> String {
        self.name.to_string()
    }
}

/// Resolves a full attribute name (`userName`, `emails.type`, an enterprise URN, ...).
pub fn resolve(kind: ResourceKind, name: &str) -> Option<Attr> {
    let mut at = scim_model::resolve(kind, name)?;
    let path = match locate(kind, &at)? {
        Stored::EnterpriseAttr(EnterpriseField::Manager) => {
            // A bare `manager` filters on its value, the manager's user id.
            at.sub = at.attr.sub("value");
            Stored::EnterpriseAttr(EnterpriseField::ManagerValue)
        }
        Stored::Values(Container::Addresses) => {
            return Some(Attr {
                path: Path::AnyOf(Container::Addresses),
                ty: Type::Presence,
                case_exact: false,
                name: at,
            });
        }
        Stored::Values(c) => {
            // A bare multi-valued name means its `value`.
            at.sub = at.attr.sub("value");
            Stored::Each(c, Field::Value)
        }
        Stored::Password | Stored::Name | Stored::Enterprise => return None,
        other => other,
    };
    Some(typed(Path::At(path), at))
}

/// Resolves the attribute of a value path (`emails` in `emails[type eq "work"]`).
pub fn resolve_container(kind: ResourceKind, name: &str) -> Option<Container> {
    let at = scim_model::resolve(kind, name)?;
    match locate(kind, &at)? {
        Stored::Values(c) => Some(c),
        _ => None,
    }
}

/// Resolves an attribute inside a value path, relative to `c` (`type`, `value`, ...).
/// A name repeating the container (`emails.type`) is accepted too.
pub fn resolve_relative(c: Container, name: &str) -> Option<Attr> {
    let (at, field) = c.relative(name)?;
    Some(typed(Path::Elem(field), at))
}

/// The comparison type and caseExact of the catalogue attribute `at`, stored at `path`.
fn typed(path: Path, at: AttrPath) -> Attr {
    let leaf = at.leaf();
    let ty = match (path, leaf.kind) {
        (Path::At(Stored::MetaVersion), _) => Type::Version,
        (_, AttrType::Boolean) => Type::Bool,
        (_, AttrType::DateTime) => Type::Time,
        _ => Type::Str,
    };
    Attr {
        path,
        ty,
        case_exact: leaf.case_exact,
        name: at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_case_insensitively_with_or_without_urn() {
        let a = resolve(ResourceKind::User, "USERNAME").unwrap();
        assert_eq!(a.path, Path::At(Stored::UserName));
        assert!(!a.case_exact);
        let b = resolve(
            ResourceKind::User,
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        )
        .unwrap();
        assert_eq!(b.path, Path::At(Stored::UserName));
        let e = resolve(
            ResourceKind::User,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:Manager",
        )
        .unwrap();
        assert_eq!(
            e.path,
            Path::At(Stored::EnterpriseAttr(EnterpriseField::ManagerValue))
        );
    }

    #[test]
    fn bare_multi_valued_names_mean_value() {
        let a = resolve(ResourceKind::User, "emails").unwrap();
        assert_eq!(
            a.path,
            Path::At(Stored::Each(Container::Emails, Field::Value))
        );
        let m = resolve(ResourceKind::Group, "members").unwrap();
        assert_eq!(
            m.path,
            Path::At(Stored::Each(Container::Members, Field::Value))
        );
        assert!(m.case_exact);
    }

    #[test]
    fn unknown_and_secret_names_are_refused() {
        assert!(resolve(ResourceKind::User, "password").is_none());
        assert!(resolve(ResourceKind::User, "members").is_none());
        assert!(resolve(ResourceKind::Group, "userName").is_none());
        assert!(resolve(ResourceKind::User, "emails.bogus").is_none());
        assert!(resolve(ResourceKind::User, "name").is_none());
    }

    #[test]
    fn ids_and_external_ids_are_case_exact() {
        for n in [
            "id",
            "externalId",
            "meta.resourceType",
            "photos.value",
            "groups",
        ] {
            assert!(resolve(ResourceKind::User, n).unwrap().case_exact, "{n}");
        }
    }

    #[test]
    fn relative_names_follow_the_container() {
        let t = resolve_relative(Container::Emails, "Type").unwrap();
        assert_eq!(t.canonical(), "emails.type");
        assert_eq!(t.path, Path::Elem(Field::Type));
        assert!(resolve_relative(Container::Emails, "emails.value").is_some());
        assert!(resolve_relative(Container::Emails, "phoneNumbers.value").is_none());
        assert!(resolve_relative(Container::Members, "primary").is_none());
        assert!(resolve_relative(Container::Addresses, "locality").is_some());
    }
}
