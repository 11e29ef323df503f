//! The attributes a list can be sorted by (RFC 7644 §3.4.2.3).
//!
//! Each is one the directory keeps in a column of its own, so a sorted walk is a walk
//! of that column's index: `userName`, `displayName`, `externalId`, `meta.created` and
//! `meta.lastModified` (a group has no `userName`). Strings order as their attribute's
//! `caseExact` says.

use crate::path::resolve;
use crate::schema::ResourceKind;

/// A sortable attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortAttr {
    /// `meta.created`: creation order, the default order of every list.
    Created,
    /// `userName` (users only).
    UserName,
    /// `displayName`.
    DisplayName,
    /// `externalId`.
    ExternalId,
    /// `meta.lastModified`.
    LastModified,
}

/// The attribute `sortBy` names for a list of `kind`; `None` when the list cannot be
/// sorted by it (or it names nothing).
pub fn sort_attr(kind: ResourceKind, sort_by: &str) -> Option<SortAttr> {
    let path = resolve(kind, sort_by)?;
    if path.is_extension() {
        return None;
    }
    let attr = match (path.attr.name, path.sub.map(|s| s.name)) {
        ("meta", Some("created")) => SortAttr::Created,
        ("meta", Some("lastModified")) => SortAttr::LastModified,
        ("userName", None) if kind == ResourceKind::User => SortAttr::UserName,
        ("displayName", None) => SortAttr::DisplayName,
        ("externalId", None) => SortAttr::ExternalId,
        _ => return None,
    };
    Some(attr)
}

/// The `sortBy` values a list of `kind` accepts, for error messages.
pub fn sortable(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "userName, displayName, externalId, meta.created, meta.lastModified",
        ResourceKind::Group => "displayName, externalId, meta.created, meta.lastModified",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_in_any_case_and_with_the_core_urn() {
        use ResourceKind::{Group, User};
        assert_eq!(sort_attr(User, "userName"), Some(SortAttr::UserName));
        assert_eq!(sort_attr(User, "USERNAME"), Some(SortAttr::UserName));
        assert_eq!(
            sort_attr(
                User,
                "urn:ietf:params:scim:schemas:core:2.0:User:meta.lastModified"
            ),
            Some(SortAttr::LastModified)
        );
        assert_eq!(sort_attr(Group, "meta.created"), Some(SortAttr::Created));
        assert_eq!(sort_attr(Group, "displayName"), Some(SortAttr::DisplayName));
        assert_eq!(sort_attr(Group, "userName"), None);
        assert_eq!(sort_attr(User, "name.givenName"), None);
        assert_eq!(sort_attr(User, "department"), None);
        assert_eq!(sort_attr(User, "nonsense"), None);
    }
}
