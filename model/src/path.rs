//! Canonical attribute paths: case-insensitive names, URN prefixes and sub-attributes
//! resolved against the catalogue.

use std::fmt;

use crate::schema::{AttrDef, ResourceKind, SchemaDef};

/// A resolved attribute path such as `name.givenName` or
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema that defines the attribute.
    pub schema: &'static SchemaDef,
    /// The top-level attribute.
    pub attr: &'static AttrDef,
    /// The sub-attribute, when the path has one.
    pub sub: Option<&'static AttrDef>,
}

impl AttrPath {
    /// The attribute the path ends at.
    pub fn leaf(&self) -> &'static AttrDef {
        self.sub.unwrap_or(self.attr)
    }

    /// Whether the attribute lives in a schema extension (the enterprise User).
    pub fn is_extension(&self) -> bool {
        self.schema.is_extension()
    }
}

impl fmt::Display for AttrPath {
    /// The canonical spelling used in identity.v1 filters: core attributes bare,
    /// extension attributes prefixed with their schema URN.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_extension() {
            write!(f, "{}:", self.schema.id)?;
        }
        f.write_str(self.attr.name)?;
        if let Some(sub) = self.sub {
            write!(f, ".{}", sub.name)?;
        }
        Ok(())
    }
}

/// The schema of `kind` whose URN is exactly `raw` (case-insensitively).
pub fn schema_by_urn(kind: ResourceKind, raw: &str) -> Option<&'static SchemaDef> {
    kind.schemas()
        .iter()
        .copied()
        .find(|s| s.id.eq_ignore_ascii_case(raw))
}

/// Resolves a raw attribute path of `kind` to its canonical form.
///
/// Names compare case-insensitively; a core-schema URN prefix is dropped; the enterprise
/// extension is recognised by its URN prefix and, for names that exist only there (such
/// as `department` or `manager`), also without it. `None` when nothing matches.
pub fn resolve(kind: ResourceKind, raw: &str) -> Option<AttrPath> {
    let raw = raw.trim();
    for &schema in kind.schemas() {
        if let Some(rest) = strip_urn(raw, schema.id) {
            return resolve_in(schema, rest);
        }
    }
    if raw.contains(':') {
        return None;
    }
    // Bare names: the core schema first, then extensions for names only they define
    // (Entra's legacy PATCH says `manager` where it means the enterprise attribute).
    kind.schemas().iter().find_map(|&s| resolve_in(s, raw))
}

/// Resolves `attr[.sub]` within one schema.
pub fn resolve_in(schema: &'static SchemaDef, raw: &str) -> Option<AttrPath> {
    let (head, tail) = match raw.split_once('.') {
        Some((h, t)) => (h, Some(t)),
        None => (raw, None),
    };
    let attr = schema.attr(head)?;
    let sub = match tail {
        None => None,
        Some(t) => Some(attr.sub(t)?),
    };
    Some(AttrPath { schema, attr, sub })
}

/// `raw` without a leading `urn:` prefix and its `:` separator, matched case-insensitively.
fn strip_urn<'a>(raw: &'a str, urn: &str) -> Option<&'a str> {
    let bytes = raw.as_bytes();
    let n = urn.len();
    if bytes.len() > n && bytes[..n].eq_ignore_ascii_case(urn.as_bytes()) && bytes[n] == b':' {
        // The matched prefix is ASCII, so n + 1 is a character boundary.
        raw.get(n + 1..)
    } else {
        None
    }
}

/// At most 64 characters of client text, for error details (so an error never echoes
/// a whole request back).
pub fn clip(raw: &str) -> String {
    const MAX: usize = 64;
    if raw.chars().count() <= MAX {
        raw.to_owned()
    } else {
        let mut s: String = raw.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ENTERPRISE_USER_SCHEMA, Mutability, Returned, Uniqueness};

    fn canon(kind: ResourceKind, raw: &str) -> String {
        resolve(kind, raw).unwrap().to_string()
    }

    #[test]
    fn names_resolve_case_insensitively() {
        assert_eq!(canon(ResourceKind::User, "USERNAME"), "userName");
        assert_eq!(
            canon(ResourceKind::User, "name.GivenName"),
            "name.givenName"
        );
        assert_eq!(canon(ResourceKind::User, "Emails.VALUE"), "emails.value");
        assert_eq!(canon(ResourceKind::Group, "displayname"), "displayName");
        assert_eq!(
            canon(ResourceKind::Group, "members.display"),
            "members.display"
        );
    }

    #[test]
    fn core_urn_prefix_is_dropped() {
        assert_eq!(
            canon(
                ResourceKind::User,
                "urn:ietf:params:scim:schemas:core:2.0:User:userName"
            ),
            "userName"
        );
        assert_eq!(
            canon(
                ResourceKind::User,
                "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:name.familyName"
            ),
            "name.familyName"
        );
        assert_eq!(
            canon(
                ResourceKind::Group,
                "urn:ietf:params:scim:schemas:core:2.0:Group:displayName"
            ),
            "displayName"
        );
    }

    #[test]
    fn enterprise_paths_keep_their_urn() {
        let p = resolve(
            ResourceKind::User,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:Department",
        )
        .unwrap();
        assert!(p.is_extension());
        assert_eq!(
            p.to_string(),
            format!("{ENTERPRISE_USER_SCHEMA}:department")
        );
        assert_eq!(
            canon(
                ResourceKind::User,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
            ),
            format!("{ENTERPRISE_USER_SCHEMA}:manager.value")
        );
        assert_eq!(
            canon(ResourceKind::User, "manager"),
            format!("{ENTERPRISE_USER_SCHEMA}:manager")
        );
    }

    #[test]
    fn unknown_names_resolve_to_nothing() {
        for raw in [
            "",
            "nope",
            "name.nope",
            "userName.value",
            "a.b.c",
            "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
            "urn:example:custom:foo",
            "urn:ietf:params:scim:schemas:core:2.0:User:",
        ] {
            assert!(resolve(ResourceKind::User, raw).is_none(), "{raw}");
        }
        // Users-only attributes do not exist on groups.
        assert!(resolve(ResourceKind::Group, "userName").is_none());
        assert!(resolve(ResourceKind::Group, "department").is_none());
    }

    #[test]
    fn characteristics_follow_rfc_7643() {
        let user_name = resolve(ResourceKind::User, "userName").unwrap().leaf();
        assert!(!user_name.case_exact);
        assert_eq!(user_name.uniqueness, Uniqueness::Server);
        assert!(user_name.required);
        let id = resolve(ResourceKind::User, "id").unwrap().leaf();
        assert!(id.case_exact);
        assert_eq!(id.returned, Returned::Always);
        assert_eq!(id.mutability, Mutability::ReadOnly);
        let pw = resolve(ResourceKind::User, "password").unwrap().leaf();
        assert_eq!(pw.returned, Returned::Never);
        assert_eq!(pw.mutability, Mutability::WriteOnly);
    }

    #[test]
    fn clip_is_char_safe() {
        let long = "é".repeat(100);
        assert_eq!(clip(&long).chars().count(), 65);
        assert_eq!(clip("short"), "short");
    }
}
