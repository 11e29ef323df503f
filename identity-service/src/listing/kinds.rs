//! The two listable kinds: how each counts, pages, looks up, decodes and fills its
//! related data (a user's `groups`, a group's `members`).

use diesel::QueryResult;
use scim_proto::identity::v1 as pb;
use scim_storage::Conn;

use crate::db::counts::Kind;
use crate::db::groups::{self, GroupRow};
use crate::db::memberships;
use crate::db::sorted_pages::SortPos;
use crate::db::users::{self, UserRow};
use crate::error::IdentityError;
use crate::filter::Target;
use crate::filter::plan::IndexKey;
use crate::listing::sorted::Sort;
use crate::model;

/// A kind of resource that can be listed.
pub trait ListKind {
    /// Its row type.
    type Row;
    /// What the API returns, and what filters evaluate.
    type Item: Target;
    /// `users` or `groups`: names the list in tokens and cache keys.
    const NAME: &'static str;
    /// The kind's counters in [`crate::db::counts`].
    const KIND: Kind;

    /// The row's seq.
    fn seq(row: &Self::Row) -> i64;
    /// Rows after a seq, in order.
    fn after(
        conn: &mut Conn<'_>,
        tenant: &str,
        seq: i64,
        limit: i64,
    ) -> QueryResult<Vec<Self::Row>>;
    /// Rows with `seq >= from_seq` after skipping `offset` of them, in order.
    fn skip_from(
        conn: &mut Conn<'_>,
        tenant: &str,
        from_seq: i64,
        offset: i64,
        limit: i64,
    ) -> QueryResult<Vec<Self::Row>>;
    /// The number of rows of the tenant and the seq at every `every`-th position.
    fn sample_seqs(conn: &mut Conn<'_>, tenant: &str, every: usize)
    -> QueryResult<(i64, Vec<i64>)>;
    /// Rows an index lookup yields, in order.
    fn lookup(conn: &mut Conn<'_>, tenant: &str, key: &IndexKey) -> QueryResult<Vec<Self::Row>>;
    /// Rows as items, without related data.
    fn decode(row: &Self::Row) -> Result<Self::Item, IdentityError>;
    /// Fills a user's `groups` or a group's `members`.
    fn attach_related(
        conn: &mut Conn<'_>,
        tenant: &str,
        items: &mut [(i64, Self::Item)],
    ) -> Result<(), IdentityError>;
    /// Empties what [`ListKind::attach_related`] filled.
    fn strip_related(item: &mut Self::Item);
    /// The keys the kind can be sorted by.
    const SORT_KEYS: &'static [pb::SortKey];
    /// Up to `limit` rows in `sort`'s order after `from`; `None` when the kind cannot be
    /// sorted by that key.
    fn sorted(
        conn: &mut Conn<'_>,
        tenant: &str,
        sort: Sort,
        from: Option<&SortPos>,
        limit: i64,
    ) -> Option<QueryResult<Vec<Self::Row>>>;
    /// Where a row stands in an order by `key`.
    fn sort_pos(row: &Self::Row, key: pb::SortKey) -> SortPos;
}

/// The paging methods of [`ListKind`], answered by a table module's queries
/// (`db::seq_pages`): the same for both kinds but for the module.
macro_rules! table_pages {
    ($table:ident, $row:ty) => {
        fn seq(row: &$row) -> i64 {
            row.seq
        }
        fn after(
            conn: &mut Conn<'_>,
            tenant: &str,
            seq: i64,
            limit: i64,
        ) -> QueryResult<Vec<$row>> {
            $table::after(conn, tenant, seq, limit)
        }
        fn skip_from(
            conn: &mut Conn<'_>,
            tenant: &str,
            from_seq: i64,
            offset: i64,
            limit: i64,
        ) -> QueryResult<Vec<$row>> {
            $table::skip_from(conn, tenant, from_seq, offset, limit)
        }
        fn sample_seqs(
            conn: &mut Conn<'_>,
            tenant: &str,
            every: usize,
        ) -> QueryResult<(i64, Vec<i64>)> {
            $table::sample_seqs(conn, tenant, every)
        }
        fn lookup(conn: &mut Conn<'_>, tenant: &str, key: &IndexKey) -> QueryResult<Vec<$row>> {
            $table::lookup(conn, tenant, key)
        }
    };
}

/// Users.
#[derive(Debug)]
pub struct Users;

impl ListKind for Users {
    type Row = UserRow;
    type Item = pb::User;
    const NAME: &'static str = Kind::Users.as_str();
    const KIND: Kind = Kind::Users;
    const SORT_KEYS: &'static [pb::SortKey] = &[
        pb::SortKey::Created,
        pb::SortKey::UserName,
        pb::SortKey::DisplayName,
        pb::SortKey::ExternalId,
        pb::SortKey::LastModified,
        pb::SortKey::PrimaryEmail,
    ];

    table_pages!(users, UserRow);
    fn decode(row: &UserRow) -> Result<pb::User, IdentityError> {
        model::user_from_row(row)
    }
    fn attach_related(
        conn: &mut Conn<'_>,
        tenant: &str,
        items: &mut [(i64, pb::User)],
    ) -> Result<(), IdentityError> {
        let ids: Vec<&str> = items.iter().map(|(_, u)| u.id.as_str()).collect();
        let mut refs = memberships::groups_of(conn, tenant, &ids)?;
        for (_, user) in items.iter_mut() {
            user.groups = refs.remove(&user.id).unwrap_or_default();
        }
        Ok(())
    }
    fn strip_related(item: &mut pb::User) {
        item.groups.clear();
    }
    fn sorted(
        conn: &mut Conn<'_>,
        tenant: &str,
        sort: Sort,
        from: Option<&SortPos>,
        limit: i64,
    ) -> Option<QueryResult<Vec<UserRow>>> {
        use pb::SortKey as K;
        use users::sorted as s;
        let walk = match sort.key {
            K::Created => s::by_created,
            K::UserName => s::by_user_name,
            K::DisplayName => s::by_display_name,
            K::ExternalId => s::by_external_id,
            K::LastModified => s::by_last_modified,
            K::PrimaryEmail => s::by_email,
        };
        Some(walk(conn, tenant, sort.descending, from, limit))
    }
    fn sort_pos(row: &UserRow, key: pb::SortKey) -> SortPos {
        use pb::SortKey as K;
        let value = match key {
            K::Created => None,
            K::UserName => Some(model::fold(&row.user_name)),
            K::DisplayName => row.display_name.as_deref().map(model::fold),
            K::ExternalId => row.external_id.clone(),
            K::LastModified => Some(scim_storage::DbTime(row.updated_at).to_text()),
            K::PrimaryEmail => row.sort_email.clone(),
        };
        SortPos {
            value,
            seq: row.seq,
        }
    }
}

/// Groups.
#[derive(Debug)]
pub struct Groups;

impl ListKind for Groups {
    type Row = GroupRow;
    type Item = pb::Group;
    const NAME: &'static str = Kind::Groups.as_str();
    const KIND: Kind = Kind::Groups;
    const SORT_KEYS: &'static [pb::SortKey] = &[
        pb::SortKey::Created,
        pb::SortKey::DisplayName,
        pb::SortKey::ExternalId,
        pb::SortKey::LastModified,
    ];

    table_pages!(groups, GroupRow);
    fn decode(row: &GroupRow) -> Result<pb::Group, IdentityError> {
        Ok(model::group_from_row(row))
    }
    fn attach_related(
        conn: &mut Conn<'_>,
        _tenant: &str,
        items: &mut [(i64, pb::Group)],
    ) -> Result<(), IdentityError> {
        let ids: Vec<&str> = items.iter().map(|(_, g)| g.id.as_str()).collect();
        let mut members = memberships::members_of(conn, &ids)?;
        for (_, group) in items.iter_mut() {
            group.members = members.remove(&group.id).unwrap_or_default();
        }
        Ok(())
    }
    fn strip_related(item: &mut pb::Group) {
        item.members.clear();
    }
    fn sorted(
        conn: &mut Conn<'_>,
        tenant: &str,
        sort: Sort,
        from: Option<&SortPos>,
        limit: i64,
    ) -> Option<QueryResult<Vec<GroupRow>>> {
        use groups::sorted as s;
        use pb::SortKey as K;
        let walk = match sort.key {
            K::Created => s::by_created,
            K::DisplayName => s::by_display_name,
            K::ExternalId => s::by_external_id,
            K::LastModified => s::by_last_modified,
            K::UserName | K::PrimaryEmail => return None,
        };
        Some(walk(conn, tenant, sort.descending, from, limit))
    }
    fn sort_pos(row: &GroupRow, key: pb::SortKey) -> SortPos {
        use pb::SortKey as K;
        let value = match key {
            K::Created | K::UserName | K::PrimaryEmail => None,
            K::DisplayName => Some(model::fold(&row.display_name)),
            K::ExternalId => row.external_id.clone(),
            K::LastModified => Some(scim_storage::DbTime(row.updated_at).to_text()),
        };
        SortPos {
            value,
            seq: row.seq,
        }
    }
}
