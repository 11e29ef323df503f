//! The `users` and `user_emails` tables.
//!
//! Every function filters by tenant; callers run them inside a transaction from
//! [`crate::db::Database`].

use chrono::NaiveDateTime;
use diesel::prelude::*;
use scim_proto::identity::v1 as pb;
use scim_storage::{Conn, DbTime, with_conn};

use super::schema::{groups, memberships, user_emails, users};
use crate::filter::plan::IndexKey;
use crate::model::{UserValues, fold};

/// Backends bound the parameters of one statement; lists are chunked.
pub const CHUNK: usize = 500;

/// A user row, without the normalised columns and the password hash.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct UserRow {
    /// Creation order; the listing order.
    pub seq: i64,
    /// The user id.
    pub id: String,
    /// The owning tenant.
    pub tenant: String,
    /// `userName` as given.
    pub user_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `active`; `None` after a client removed it.
    pub active: Option<bool>,
    /// The version, 1 on creation.
    pub version: i64,
    /// When the user was created (UTC).
    #[diesel(deserialize_as = DbTime)]
    pub created_at: NaiveDateTime,
    /// When the user last changed (UTC).
    #[diesel(deserialize_as = DbTime)]
    pub updated_at: NaiveDateTime,
    /// The encoded attributes.
    pub attributes: Vec<u8>,
    /// The e-mail the user sorts by, folded ([`crate::model::sort_email`]).
    pub sort_email: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
struct NewUser<'a> {
    id: &'a str,
    tenant: &'a str,
    user_name: &'a str,
    user_name_norm: &'a str,
    external_id: Option<&'a str>,
    display_name: Option<&'a str>,
    display_name_norm: Option<&'a str>,
    active: Option<bool>,
    password_hash: Option<&'a str>,
    version: i64,
    created_at: DbTime,
    updated_at: DbTime,
    attributes: &'a [u8],
    sort_email: Option<&'a str>,
}

#[derive(AsChangeset)]
#[diesel(table_name = users, treat_none_as_null = true)]
struct UserChanges<'a> {
    user_name: &'a str,
    user_name_norm: &'a str,
    external_id: Option<&'a str>,
    display_name: Option<&'a str>,
    display_name_norm: Option<&'a str>,
    active: Option<bool>,
    version: i64,
    updated_at: DbTime,
    attributes: &'a [u8],
    sort_email: Option<&'a str>,
}

#[derive(Insertable)]
#[diesel(table_name = user_emails, treat_none_as_default_value = false)]
struct NewEmail<'a> {
    user_id: &'a str,
    position: i32,
    tenant: &'a str,
    value_norm: String,
    type_: Option<&'a str>,
}

/// What happens to the stored password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordChange {
    /// Leave it.
    Keep,
    /// Remove it.
    Clear,
    /// Store this Argon2id hash.
    Set(String),
}

/// The user `id` of `tenant`.
///
/// `id` is unique, so there is no `LIMIT`: SQLite re-prepares a statement whose
/// `LIMIT ?` parameter is bound again, which would defeat diesel's statement cache on
/// the hottest query there is (see docs/PERFORMANCE.md).
pub fn find(conn: &mut Conn<'_>, tenant: &str, id: &str) -> QueryResult<Option<UserRow>> {
    with_conn!(conn, |c| users::table
        .filter(users::tenant.eq(tenant))
        .filter(users::id.eq(id))
        .select(UserRow::as_select())
        .get_result(c)
        .optional())
}

/// The user `id` of `tenant`, locked until the transaction ends: concurrent writers of
/// one user on PostgreSQL take turns, and each sees the version the last one committed
/// (SQLite's single writer needs no lock).
pub fn find_for_update(
    conn: &mut Conn<'_>,
    tenant: &str,
    id: &str,
) -> QueryResult<Option<UserRow>> {
    // The same query for each backend; only PostgreSQL has (and needs) the lock.
    macro_rules! by_id {
        () => {
            users::table
                .filter(users::tenant.eq(tenant))
                .filter(users::id.eq(id))
                .select(UserRow::as_select())
        };
    }
    match conn {
        Conn::Sqlite(c) => by_id!().get_result(&mut **c).optional(),
        Conn::Pg(c) => by_id!().for_update().get_result(&mut **c).optional(),
    }
}

/// Whether another user of `tenant` has this folded `userName`.
///
/// Static queries (no `into_boxed`) so that diesel caches the prepared statements.
pub fn user_name_taken(
    conn: &mut Conn<'_>,
    tenant: &str,
    user_name_norm: &str,
    except_id: Option<&str>,
) -> QueryResult<bool> {
    let by_name = users::table
        .filter(users::tenant.eq(tenant))
        .filter(users::user_name_norm.eq(user_name_norm))
        .select(users::id);
    // (tenant, user_name_norm) is unique: at most one row.
    let holder: Option<String> = with_conn!(conn, |c| by_name.get_result(c).optional())?;
    Ok(holder.is_some_and(|h| Some(h.as_str()) != except_id))
}

/// Inserts a new user with its e-mail index rows.
pub fn insert(
    conn: &mut Conn<'_>,
    tenant: &str,
    id: &str,
    values: &UserValues,
    emails: &[pb::MultiValue],
    password_hash: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<UserRow> {
    let new = NewUser {
        id,
        tenant,
        user_name: &values.user_name,
        user_name_norm: &values.user_name_norm,
        external_id: values.external_id.as_deref(),
        display_name: values.display_name.as_deref(),
        display_name_norm: values.display_name_norm.as_deref(),
        active: values.active,
        password_hash,
        version: 1,
        created_at: DbTime(now),
        updated_at: DbTime(now),
        attributes: &values.attributes,
        sort_email: values.sort_email.as_deref(),
    };
    let row = with_conn!(conn, |c| diesel::insert_into(users::table)
        .values(&new)
        .returning(UserRow::as_returning())
        .get_result(c))?;
    insert_emails(conn, tenant, id, emails)?;
    Ok(row)
}

/// Stores new values for `row`, bumping its version. `emails` replaces the e-mail index
/// when given.
pub fn update(
    conn: &mut Conn<'_>,
    row: &UserRow,
    values: &UserValues,
    emails: Option<&[pb::MultiValue]>,
    password: &PasswordChange,
    now: NaiveDateTime,
) -> QueryResult<UserRow> {
    let target = users::table.filter(users::seq.eq(row.seq));
    match password {
        PasswordChange::Keep => {}
        PasswordChange::Clear => {
            with_conn!(conn, |c| diesel::update(target)
                .set(users::password_hash.eq(None::<String>))
                .execute(c))?;
        }
        PasswordChange::Set(hash) => {
            with_conn!(conn, |c| diesel::update(target)
                .set(users::password_hash.eq(hash))
                .execute(c))?;
        }
    }
    let changes = UserChanges {
        user_name: &values.user_name,
        user_name_norm: &values.user_name_norm,
        external_id: values.external_id.as_deref(),
        display_name: values.display_name.as_deref(),
        display_name_norm: values.display_name_norm.as_deref(),
        active: values.active,
        version: row.version + 1,
        updated_at: DbTime(now),
        attributes: &values.attributes,
        sort_email: values.sort_email.as_deref(),
    };
    let updated = with_conn!(conn, |c| diesel::update(target)
        .set(&changes)
        .returning(UserRow::as_returning())
        .get_result(c))?;
    if let Some(emails) = emails {
        with_conn!(conn, |c| diesel::delete(
            user_emails::table.filter(user_emails::user_id.eq(&row.id))
        )
        .execute(c))?;
        insert_emails(conn, &row.tenant, &row.id, emails)?;
    }
    Ok(updated)
}

fn insert_emails(
    conn: &mut Conn<'_>,
    tenant: &str,
    user_id: &str,
    emails: &[pb::MultiValue],
) -> QueryResult<()> {
    let rows: Vec<NewEmail<'_>> = emails
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.value.is_empty())
        .map(|(i, e)| NewEmail {
            user_id,
            position: i32::try_from(i).unwrap_or(i32::MAX),
            tenant,
            value_norm: fold(&e.value),
            type_: e.r#type.as_deref(),
        })
        .collect();
    // One row per statement: a single-row insert is a statement diesel caches, where a
    // multi-row insert is prepared again for every distinct row count.
    for row in &rows {
        with_conn!(conn, |c| diesel::insert_into(user_emails::table)
            .values(row)
            .execute(c))?;
    }
    Ok(())
}

/// Deletes a user, its e-mail rows, and every membership naming it; each affected group
/// loses one member and gains a version.
///
/// The groups are the ones whose rows this statement deleted (`RETURNING`), not ones
/// read beforehand: on PostgreSQL a concurrent change of a group may remove the same
/// membership first, and its group must not lose the member twice.
pub fn delete(conn: &mut Conn<'_>, row: &UserRow, now: NaiveDateTime) -> QueryResult<()> {
    let naming = memberships::table
        .filter(memberships::tenant.eq(&row.tenant))
        .filter(memberships::member_value.eq(&row.id));
    let group_ids: Vec<String> = with_conn!(conn, |c| diesel::delete(naming)
        .returning(memberships::group_id)
        .get_results(c))?;
    lose_member(conn, &group_ids, now)?;
    with_conn!(conn, |c| diesel::delete(
        user_emails::table.filter(user_emails::user_id.eq(&row.id))
    )
    .execute(c))?;
    with_conn!(conn, |c| diesel::delete(
        users::table.filter(users::seq.eq(row.seq))
    )
    .execute(c))?;
    Ok(())
}

/// Each of `group_ids` loses one member and gains a version.
pub fn lose_member(
    conn: &mut Conn<'_>,
    group_ids: &[String],
    now: NaiveDateTime,
) -> QueryResult<()> {
    for chunk in group_ids.chunks(CHUNK) {
        with_conn!(conn, |c| diesel::update(
            groups::table.filter(groups::id.eq_any(chunk))
        )
        .set((
            groups::member_count.eq(groups::member_count - 1),
            groups::version.eq(groups::version + 1),
            groups::updated_at.eq(DbTime(now)),
        ))
        .execute(c))?;
    }
    Ok(())
}

/// The stored password hash of a user (for verification and tests of storage).
pub fn password_hash(conn: &mut Conn<'_>, tenant: &str, id: &str) -> QueryResult<Option<String>> {
    let query = users::table
        .filter(users::tenant.eq(tenant))
        .filter(users::id.eq(id))
        .select(users::password_hash);
    with_conn!(conn, |c| query.first::<Option<String>>(c).optional()).map(Option::flatten)
}

super::seq_pages::seq_pages!(users, UserRow, "users");

/// The users an index lookup yields, in order. Keys that do not apply to users yield
/// nothing.
///
/// One static query per key rather than one boxed query: diesel caches the prepared
/// statement of a static query, and parsing the SQL again cost more than running it.
pub fn lookup(conn: &mut Conn<'_>, tenant: &str, key: &IndexKey) -> QueryResult<Vec<UserRow>> {
    macro_rules! of_tenant {
        () => {
            users::table
                .filter(users::tenant.eq(tenant))
                .order(users::seq.asc())
                .select(UserRow::as_select())
        };
    }
    match key {
        IndexKey::Id(v) => Ok(find(conn, tenant, v)?.into_iter().collect()),
        IndexKey::UserName(v) => {
            with_conn!(conn, |c| of_tenant!()
                .filter(users::user_name_norm.eq(v))
                .load(c))
        }
        IndexKey::ExternalId(v) => {
            with_conn!(conn, |c| of_tenant!()
                .filter(users::external_id.eq(v))
                .load(c))
        }
        IndexKey::DisplayName(v) => {
            with_conn!(conn, |c| of_tenant!()
                .filter(users::display_name_norm.eq(v))
                .load(c))
        }
        IndexKey::EmailValue(v) => {
            // Two steps on purpose: with `id IN (subquery)` next to `ORDER BY seq`,
            // SQLite walks the (tenant, seq) index and probes every user instead of
            // starting from the e-mail index.
            let query = user_emails::table
                .filter(user_emails::tenant.eq(tenant))
                .filter(user_emails::value_norm.eq(v))
                .select(user_emails::user_id)
                .distinct();
            let ids: Vec<String> = with_conn!(conn, |c| query.load(c))?;
            let mut rows = Vec::with_capacity(ids.len());
            for id in &ids {
                rows.extend(find(conn, tenant, id)?);
            }
            rows.sort_by_key(|r| r.seq);
            Ok(rows)
        }
        IndexKey::MemberValue(_) => Ok(Vec::new()),
    }
}

/// How many of `ids` are users of `tenant`.
///
/// On PostgreSQL the users found stay share-locked until the transaction ends, so that
/// a concurrent delete of one of them waits for the membership change that names it
/// (and then removes the new membership too) instead of leaving it dangling.
pub fn count_existing(conn: &mut Conn<'_>, tenant: &str, ids: &[&str]) -> QueryResult<i64> {
    let mut n = 0;
    for chunk in ids.chunks(CHUNK) {
        let of = users::table
            .filter(users::tenant.eq(tenant))
            .filter(users::id.eq_any(chunk));
        n += match conn {
            Conn::Sqlite(c) => of.count().get_result::<i64>(&mut **c)?,
            Conn::Pg(c) => of
                .select(users::seq)
                .for_share()
                .load::<i64>(&mut **c)?
                .len() as i64,
        };
    }
    Ok(n)
}

/// The ids among `ids` that name a user of `tenant`.
pub fn existing_ids(
    conn: &mut Conn<'_>,
    tenant: &str,
    ids: &[&str],
) -> QueryResult<std::collections::HashSet<String>> {
    let mut found = std::collections::HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let query = users::table
            .filter(users::tenant.eq(tenant))
            .filter(users::id.eq_any(chunk))
            .select(users::id);
        let rows: Vec<String> = with_conn!(conn, |c| query.load(c))?;
        found.extend(rows);
    }
    Ok(found)
}

/// Sorted walks of the users (see `db::sorted_pages`).
pub mod sorted {
    use super::*;
    super::super::sorted_pages::sorted_pages!(by_created, users, UserRow, created);
    super::super::sorted_pages::sorted_pages!(by_user_name, users, UserRow, user_name_norm, unique);
    super::super::sorted_pages::sorted_pages!(
        by_display_name,
        users,
        UserRow,
        display_name_norm,
        nullable
    );
    super::super::sorted_pages::sorted_pages!(
        by_external_id,
        users,
        UserRow,
        external_id,
        nullable
    );
    super::super::sorted_pages::sorted_pages!(
        by_last_modified,
        users,
        UserRow,
        updated_at,
        required
    );
    super::super::sorted_pages::sorted_pages!(by_email, users, UserRow, sort_email, nullable);
}
