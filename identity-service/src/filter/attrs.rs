//! SCIM attribute names, resolved case-insensitively into typed paths.
//!
//! The table of what is filterable lives here, with each attribute's type and whether
//! its string values compare case-exactly (RFC 7643 `caseExact`). Anything not listed,
//! `password` included, is refused as unknown.

pub use super::fields::{Container, Field, container_name};
use super::fields::{container, field_of};

/// Which resource a filter applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// `/Users`.
    User,
    /// `/Groups`.
    Group,
}

/// A component of `name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameField {
    /// `name.formatted`.
    Formatted,
    /// `name.familyName`.
    FamilyName,
    /// `name.givenName`.
    GivenName,
    /// `name.middleName`.
    MiddleName,
    /// `name.honorificPrefix`.
    HonorificPrefix,
    /// `name.honorificSuffix`.
    HonorificSuffix,
}

/// An attribute of the enterprise extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnterpriseField {
    /// `employeeNumber`.
    EmployeeNumber,
    /// `costCenter`.
    CostCenter,
    /// `organization`.
    Organization,
    /// `division`.
    Division,
    /// `department`.
    Department,
    /// `manager.value` (also plain `manager`).
    ManagerValue,
    /// `manager.displayName`.
    ManagerDisplayName,
}

/// Where an attribute's values come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// `id`.
    Id,
    /// `externalId`.
    ExternalId,
    /// `userName`.
    UserName,
    /// `displayName` (users and groups).
    DisplayName,
    /// `nickName`.
    NickName,
    /// `profileUrl`.
    ProfileUrl,
    /// `title`.
    Title,
    /// `userType`.
    UserType,
    /// `preferredLanguage`.
    PreferredLanguage,
    /// `locale`.
    Locale,
    /// `timezone`.
    Timezone,
    /// `active`.
    Active,
    /// `name.*`.
    Name(NameField),
    /// The enterprise extension.
    Enterprise(EnterpriseField),
    /// A sub-attribute over every value of a container (`emails.value`).
    Each(Container, Field),
    /// The container itself (bare `addresses`): only presence can be tested.
    AnyOf(Container),
    /// A sub-attribute of the current value, inside a value path filter.
    Elem(Field),
    /// `meta.created`.
    MetaCreated,
    /// `meta.lastModified`.
    MetaLastModified,
    /// `meta.version`.
    MetaVersion,
    /// `meta.resourceType`.
    MetaResourceType,
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
    /// The canonical SCIM name, for errors and span fields.
    pub canonical: &'static str,
}

const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:user:";
const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:group:";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:";

const fn attr(path: Path, ty: Type, case_exact: bool, canonical: &'static str) -> Attr {
    Attr {
        path,
        ty,
        case_exact,
        canonical,
    }
}

const fn text(path: Path, canonical: &'static str) -> Attr {
    attr(path, Type::Str, false, canonical)
}

const fn exact(path: Path, canonical: &'static str) -> Attr {
    attr(path, Type::Str, true, canonical)
}

/// Resolves a full attribute name (`userName`, `emails.type`, an enterprise URN, ...).
pub fn resolve(kind: ResourceKind, name: &str) -> Option<Attr> {
    let lower = name.trim().to_lowercase();
    match kind {
        ResourceKind::User => {
            if let Some(rest) = lower.strip_prefix(ENTERPRISE) {
                return enterprise(rest);
            }
            user(lower.strip_prefix(CORE_USER).unwrap_or(&lower))
        }
        ResourceKind::Group => group(lower.strip_prefix(CORE_GROUP).unwrap_or(&lower)),
    }
}

/// Resolves the attribute of a value path (`emails` in `emails[type eq "work"]`).
pub fn resolve_container(kind: ResourceKind, name: &str) -> Option<Container> {
    let lower = name.trim().to_lowercase();
    let prefix = match kind {
        ResourceKind::User => CORE_USER,
        ResourceKind::Group => CORE_GROUP,
    };
    let c = container(lower.strip_prefix(prefix).unwrap_or(&lower))?;
    let allowed = match kind {
        ResourceKind::User => c != Container::Members,
        ResourceKind::Group => c == Container::Members,
    };
    allowed.then_some(c)
}

/// Resolves an attribute inside a value path, relative to `c` (`type`, `value`, ...).
/// A name repeating the container (`emails.type`) is accepted too.
pub fn resolve_relative(c: Container, name: &str) -> Option<Attr> {
    let lower = name.trim().to_lowercase();
    let field_name = match lower.split_once('.') {
        Some((head, rest)) if container(head) == Some(c) => rest,
        Some(_) => return None,
        None => &lower,
    };
    let (field, canonical) = field_of(c, field_name)?;
    Some(field_attr(c, field, Path::Elem(field), canonical))
}

fn user(name: &str) -> Option<Attr> {
    let (head, sub) = match name.split_once('.') {
        Some((h, s)) => (h, Some(s)),
        None => (name, None),
    };
    if let Some(c) = container(head).filter(|c| *c != Container::Members) {
        return each(c, sub);
    }
    let single = match (head, sub) {
        ("id", None) => exact(Path::Id, "id"),
        ("externalid", None) => exact(Path::ExternalId, "externalId"),
        ("username", None) => text(Path::UserName, "userName"),
        ("displayname", None) => text(Path::DisplayName, "displayName"),
        ("nickname", None) => text(Path::NickName, "nickName"),
        ("profileurl", None) => exact(Path::ProfileUrl, "profileUrl"),
        ("title", None) => text(Path::Title, "title"),
        ("usertype", None) => text(Path::UserType, "userType"),
        ("preferredlanguage", None) => text(Path::PreferredLanguage, "preferredLanguage"),
        ("locale", None) => text(Path::Locale, "locale"),
        ("timezone", None) => text(Path::Timezone, "timezone"),
        ("active", None) => attr(Path::Active, Type::Bool, false, "active"),
        ("name", Some(field)) => name_field(field)?,
        ("meta", Some(field)) => meta(field)?,
        _ => return None,
    };
    Some(single)
}

fn group(name: &str) -> Option<Attr> {
    let (head, sub) = match name.split_once('.') {
        Some((h, s)) => (h, Some(s)),
        None => (name, None),
    };
    let single = match (head, sub) {
        ("id", None) => exact(Path::Id, "id"),
        ("externalid", None) => exact(Path::ExternalId, "externalId"),
        ("displayname", None) => text(Path::DisplayName, "displayName"),
        ("members", sub) => return each(Container::Members, sub),
        ("meta", Some(field)) => meta(field)?,
        _ => return None,
    };
    Some(single)
}

fn meta(field: &str) -> Option<Attr> {
    Some(match field {
        "created" => attr(Path::MetaCreated, Type::Time, true, "meta.created"),
        "lastmodified" => attr(
            Path::MetaLastModified,
            Type::Time,
            true,
            "meta.lastModified",
        ),
        "version" => attr(Path::MetaVersion, Type::Version, true, "meta.version"),
        "resourcetype" => exact(Path::MetaResourceType, "meta.resourceType"),
        _ => return None,
    })
}

fn name_field(field: &str) -> Option<Attr> {
    let (f, canonical) = match field {
        "formatted" => (NameField::Formatted, "name.formatted"),
        "familyname" => (NameField::FamilyName, "name.familyName"),
        "givenname" => (NameField::GivenName, "name.givenName"),
        "middlename" => (NameField::MiddleName, "name.middleName"),
        "honorificprefix" => (NameField::HonorificPrefix, "name.honorificPrefix"),
        "honorificsuffix" => (NameField::HonorificSuffix, "name.honorificSuffix"),
        _ => return None,
    };
    Some(text(Path::Name(f), canonical))
}

fn enterprise(rest: &str) -> Option<Attr> {
    let (f, canonical, case_exact) = match rest {
        "employeenumber" => (EnterpriseField::EmployeeNumber, "employeeNumber", false),
        "costcenter" => (EnterpriseField::CostCenter, "costCenter", false),
        "organization" => (EnterpriseField::Organization, "organization", false),
        "division" => (EnterpriseField::Division, "division", false),
        "department" => (EnterpriseField::Department, "department", false),
        // The manager's value is a user id, which is case-exact.
        "manager" | "manager.value" => (EnterpriseField::ManagerValue, "manager.value", true),
        "manager.displayname" => (
            EnterpriseField::ManagerDisplayName,
            "manager.displayName",
            false,
        ),
        _ => return None,
    };
    Some(attr(Path::Enterprise(f), Type::Str, case_exact, canonical))
}

/// `emails`, `emails.type`, ...: a bare multi-valued name means its `value`.
fn each(c: Container, sub: Option<&str>) -> Option<Attr> {
    let Some(sub) = sub else {
        return Some(match c {
            Container::Addresses => attr(Path::AnyOf(c), Type::Presence, false, "addresses"),
            _ => {
                let (_, canonical) = field_of(c, "value")?;
                field_attr(c, Field::Value, Path::Each(c, Field::Value), canonical)
            }
        });
    };
    let (field, canonical) = field_of(c, sub)?;
    Some(field_attr(c, field, Path::Each(c, field), canonical))
}

fn field_attr(c: Container, field: Field, path: Path, canonical: &'static str) -> Attr {
    let ty = if field == Field::Primary {
        Type::Bool
    } else {
        Type::Str
    };
    // Values that are ids, binary data or URLs compare exactly (RFC 7643 §8.7.1).
    let case_exact = field == Field::Value
        && matches!(
            c,
            Container::Photos
                | Container::X509Certificates
                | Container::Groups
                | Container::Members
        );
    attr(path, ty, case_exact, canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_case_insensitively_with_or_without_urn() {
        let a = resolve(ResourceKind::User, "USERNAME").unwrap();
        assert_eq!(a.path, Path::UserName);
        assert!(!a.case_exact);
        let b = resolve(
            ResourceKind::User,
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        )
        .unwrap();
        assert_eq!(b.path, Path::UserName);
        let e = resolve(
            ResourceKind::User,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:Manager",
        )
        .unwrap();
        assert_eq!(e.path, Path::Enterprise(EnterpriseField::ManagerValue));
    }

    #[test]
    fn bare_multi_valued_names_mean_value() {
        let a = resolve(ResourceKind::User, "emails").unwrap();
        assert_eq!(a.path, Path::Each(Container::Emails, Field::Value));
        let m = resolve(ResourceKind::Group, "members").unwrap();
        assert_eq!(m.path, Path::Each(Container::Members, Field::Value));
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
        assert_eq!(t.path, Path::Elem(Field::Type));
        assert!(resolve_relative(Container::Emails, "emails.value").is_some());
        assert!(resolve_relative(Container::Emails, "phoneNumbers.value").is_none());
        assert!(resolve_relative(Container::Members, "primary").is_none());
        assert!(resolve_relative(Container::Addresses, "locality").is_some());
    }
}
