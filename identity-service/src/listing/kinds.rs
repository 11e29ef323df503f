//! The two listable kinds: how each counts, pages, looks up, decodes and fills its
//! related data (a user's `groups`, a group's `members`).

use diesel::QueryResult;
use diesel::sqlite::SqliteConnection;
use scim_proto::identity::v1 as pb;

use crate::db::groups::{self, GroupRow};
use crate::db::memberships;
use crate::db::users::{self, UserRow};
use crate::error::IdentityError;
use crate::filter::Target;
use crate::filter::plan::IndexKey;
use crate::model;

/// A kind of resource that can be listed.
pub trait ListKind {
    /// Its row type.
    type Row;
    /// What the API returns, and what filters evaluate.
    type Item: Target;
    /// `users` or `groups`: names the list in tokens and cache keys.
    const NAME: &'static str;

    /// The row's seq.
    fn seq(row: &Self::Row) -> i64;
    /// Number of rows of the tenant.
    fn count(conn: &mut SqliteConnection, tenant: &str) -> QueryResult<i64>;
    /// Number of rows of the tenant with `seq <= through`.
    fn count_through(conn: &mut SqliteConnection, tenant: &str, through: i64) -> QueryResult<i64>;
    /// Rows after a seq, in order.
    fn after(
        conn: &mut SqliteConnection,
        tenant: &str,
        seq: i64,
        limit: i64,
    ) -> QueryResult<Vec<Self::Row>>;
    /// Rows with `seq >= from_seq` after skipping `offset` of them, in order.
    fn skip_from(
        conn: &mut SqliteConnection,
        tenant: &str,
        from_seq: i64,
        offset: i64,
        limit: i64,
    ) -> QueryResult<Vec<Self::Row>>;
    /// The number of rows of the tenant and the seq at every `every`-th position.
    fn sample_seqs(
        conn: &mut SqliteConnection,
        tenant: &str,
        every: usize,
    ) -> QueryResult<(i64, Vec<i64>)>;
    /// Rows an index lookup yields, in order.
    fn lookup(
        conn: &mut SqliteConnection,
        tenant: &str,
        key: &IndexKey,
    ) -> QueryResult<Vec<Self::Row>>;
    /// Rows as items, without related data.
    fn decode(row: &Self::Row) -> Result<Self::Item, IdentityError>;
    /// Fills a user's `groups` or a group's `members`.
    fn attach_related(
        conn: &mut SqliteConnection,
        tenant: &str,
        items: &mut [(i64, Self::Item)],
    ) -> Result<(), IdentityError>;
    /// Empties what [`ListKind::attach_related`] filled.
    fn strip_related(item: &mut Self::Item);
}

/// Users.
#[derive(Debug)]
pub struct Users;

impl ListKind for Users {
    type Row = UserRow;
    type Item = pb::User;
    const NAME: &'static str = "users";

    fn seq(row: &UserRow) -> i64 {
        row.seq
    }
    fn count(conn: &mut SqliteConnection, tenant: &str) -> QueryResult<i64> {
        users::count(conn, tenant)
    }
    fn count_through(conn: &mut SqliteConnection, tenant: &str, through: i64) -> QueryResult<i64> {
        users::count_through(conn, tenant, through)
    }
    fn after(
        conn: &mut SqliteConnection,
        tenant: &str,
        seq: i64,
        limit: i64,
    ) -> QueryResult<Vec<UserRow>> {
        users::after(conn, tenant, seq, limit)
    }
    fn skip_from(
        conn: &mut SqliteConnection,
        tenant: &str,
        from_seq: i64,
        offset: i64,
        limit: i64,
    ) -> QueryResult<Vec<UserRow>> {
        users::skip_from(conn, tenant, from_seq, offset, limit)
    }
    fn sample_seqs(
        conn: &mut SqliteConnection,
        tenant: &str,
        every: usize,
    ) -> QueryResult<(i64, Vec<i64>)> {
        users::sample_seqs(conn, tenant, every)
    }
    fn lookup(
        conn: &mut SqliteConnection,
        tenant: &str,
        key: &IndexKey,
    ) -> QueryResult<Vec<UserRow>> {
        users::lookup(conn, tenant, key)
    }
    fn decode(row: &UserRow) -> Result<pb::User, IdentityError> {
        model::user_from_row(row)
    }
    fn attach_related(
        conn: &mut SqliteConnection,
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
}

/// Groups.
#[derive(Debug)]
pub struct Groups;

impl ListKind for Groups {
    type Row = GroupRow;
    type Item = pb::Group;
    const NAME: &'static str = "groups";

    fn seq(row: &GroupRow) -> i64 {
        row.seq
    }
    fn count(conn: &mut SqliteConnection, tenant: &str) -> QueryResult<i64> {
        groups::count(conn, tenant)
    }
    fn count_through(conn: &mut SqliteConnection, tenant: &str, through: i64) -> QueryResult<i64> {
        groups::count_through(conn, tenant, through)
    }
    fn after(
        conn: &mut SqliteConnection,
        tenant: &str,
        seq: i64,
        limit: i64,
    ) -> QueryResult<Vec<GroupRow>> {
        groups::after(conn, tenant, seq, limit)
    }
    fn skip_from(
        conn: &mut SqliteConnection,
        tenant: &str,
        from_seq: i64,
        offset: i64,
        limit: i64,
    ) -> QueryResult<Vec<GroupRow>> {
        groups::skip_from(conn, tenant, from_seq, offset, limit)
    }
    fn sample_seqs(
        conn: &mut SqliteConnection,
        tenant: &str,
        every: usize,
    ) -> QueryResult<(i64, Vec<i64>)> {
        groups::sample_seqs(conn, tenant, every)
    }
    fn lookup(
        conn: &mut SqliteConnection,
        tenant: &str,
        key: &IndexKey,
    ) -> QueryResult<Vec<GroupRow>> {
        groups::lookup(conn, tenant, key)
    }
    fn decode(row: &GroupRow) -> Result<pb::Group, IdentityError> {
        Ok(model::group_from_row(row))
    }
    fn attach_related(
        conn: &mut SqliteConnection,
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
}
