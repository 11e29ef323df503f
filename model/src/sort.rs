//! The attributes a list can be sorted by (RFC 7644 §3.4.2.3).
//!
//! Each is one the directory keeps in a column of its own, so a sorted walk is a walk
//! of that column's index: `userName`, `displayName`, `externalId`, `meta.created`,
//! `meta.lastModified` and a user's e-mail (a group has neither `userName` nor
//! `emails`). Strings order as their attribute's `caseExact` says; a multi-valued
//! attribute sorts by its primary value, else its first (RFC 7644 §3.4.2.3).

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
    /// `emails.value` (or `emails`): the primary e-mail, else the first (users only).
    PrimaryEmail,
}

impl SortAttr {
    /// The `identity.v1` key of this order.
    pub fn key(self) -> scim_proto::identity::v1::SortKey {
        use scim_proto::identity::v1::SortKey;
        match self {
            SortAttr::Created => SortKey::Created,
            SortAttr::UserName => SortKey::UserName,
            SortAttr::DisplayName => SortKey::DisplayName,
            SortAttr::ExternalId => SortKey::ExternalId,
            SortAttr::LastModified => SortKey::LastModified,
            SortAttr::PrimaryEmail => SortKey::PrimaryEmail,
        }
    }
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
        ("emails", None | Some("value")) if kind == ResourceKind::User => SortAttr::PrimaryEmail,
        _ => return None,
    };
    Some(attr)
}

/// The `sortBy` values a list of `kind` accepts, for error messages.
pub fn sortable(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => {
            "userName, displayName, externalId, meta.created, meta.lastModified, emails.value"
        }
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
        assert_eq!(
            sort_attr(User, "emails.value"),
            Some(SortAttr::PrimaryEmail)
        );
        assert_eq!(sort_attr(User, "emails"), Some(SortAttr::PrimaryEmail));
        assert_eq!(sort_attr(User, "emails.type"), None);
        assert_eq!(sort_attr(Group, "emails"), None);
        assert_eq!(sort_attr(User, "nonsense"), None);
    }
}
