//! Whole tables read out of one database and written into another, for
//! `scimctl db copy`: providers with their secret hashes, the key those hashes are
//! keyed with, signing keys and revocations, every column as stored, so tokens and
//! client secrets issued before a move keep working after it.
//!
//! Failed-authentication records (`auth_failures`) are not copied: they are forgotten
//! within minutes anyway. The caller reads the source in one snapshot and writes the
//! target in one transaction, page by page, in primary-key order; then [`finish`]
//! moves PostgreSQL's revocation sequence past the copied ones.

use diesel::dsl::count_star;
use diesel::prelude::*;
use scim_storage::{Conn, with_conn};

use super::keys::KeyRow;
use super::providers::ProviderRow;
use super::revocations::RevocationRow;
use super::schema::{providers, revocations, settings, signing_keys};

/// Rows per read and per insert.
pub const PAGE: i64 = 200;

/// The tables copied.
pub const TABLES: [&str; 4] = ["settings", "providers", "signing_keys", "revocations"];

/// One page of a table, as read from the source. Not `Debug`: it holds secrets.
#[derive(Clone)]
pub enum Page {
    /// `settings` rows: name and value.
    Settings(Vec<(String, Vec<u8>)>),
    /// `providers` rows.
    Providers(Vec<ProviderRow>),
    /// `signing_keys` rows.
    Keys(Vec<KeyRow>),
    /// `revocations` rows.
    Revocations(Vec<RevocationRow>),
}

impl Page {
    /// Rows on the page.
    pub fn len(&self) -> usize {
        match self {
            Page::Settings(r) => r.len(),
            Page::Providers(r) => r.len(),
            Page::Keys(r) => r.len(),
            Page::Revocations(r) => r.len(),
        }
    }

    /// Whether the page is empty (the table is done).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where the next page of a table starts: after this primary key (as text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct After(Option<String>);

fn unknown(table: &str) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(format!("no table {table} to copy").into())
}

/// Rows in `table`.
pub fn count(conn: &mut Conn<'_>, table: &str) -> QueryResult<i64> {
    match table {
        "settings" => with_conn!(conn, |c| settings::table.select(count_star()).get_result(c)),
        "providers" => with_conn!(conn, |c| providers::table
            .select(count_star())
            .get_result(c)),
        "signing_keys" => with_conn!(conn, |c| signing_keys::table
            .select(count_star())
            .get_result(c)),
        "revocations" => with_conn!(conn, |c| revocations::table
            .select(count_star())
            .get_result(c)),
        other => Err(unknown(other)),
    }
}

/// The page of `table` after `after`, in primary-key order; advances `after`.
pub fn read_page(conn: &mut Conn<'_>, table: &str, after: &mut After) -> QueryResult<Page> {
    let from = after.0.clone().unwrap_or_default();
    let (page, last) = match table {
        "settings" => {
            let rows: Vec<(String, Vec<u8>)> = with_conn!(conn, |c| settings::table
                .filter(settings::name.gt(&from))
                .order(settings::name.asc())
                .limit(PAGE)
                .select((settings::name, settings::value))
                .load(c))?;
            let last = rows.last().map(|r| r.0.clone());
            (Page::Settings(rows), last)
        }
        "providers" => {
            let rows: Vec<ProviderRow> = with_conn!(conn, |c| providers::table
                .filter(providers::client_id.gt(&from))
                .order(providers::client_id.asc())
                .limit(PAGE)
                .select(ProviderRow::as_select())
                .load(c))?;
            let last = rows.last().map(|r| r.client_id.clone());
            (Page::Providers(rows), last)
        }
        "signing_keys" => {
            let rows: Vec<KeyRow> = with_conn!(conn, |c| signing_keys::table
                .filter(signing_keys::kid.gt(&from))
                .order(signing_keys::kid.asc())
                .limit(PAGE)
                .select(KeyRow::as_select())
                .load(c))?;
            let last = rows.last().map(|r| r.kid.clone());
            (Page::Keys(rows), last)
        }
        "revocations" => {
            let seq: i64 = from.parse().unwrap_or(i64::MIN);
            let rows: Vec<RevocationRow> = with_conn!(conn, |c| revocations::table
                .filter(revocations::sequence.gt(seq))
                .order(revocations::sequence.asc())
                .limit(PAGE)
                .select(RevocationRow::as_select())
                .load(c))?;
            let last = rows.last().map(|r| r.sequence.to_string());
            (Page::Revocations(rows), last)
        }
        other => return Err(unknown(other)),
    };
    if last.is_some() {
        after.0 = last;
    }
    Ok(page)
}

/// Writes a page into the target.
pub fn write_page(conn: &mut Conn<'_>, page: &Page) -> QueryResult<usize> {
    if page.is_empty() {
        return Ok(0);
    }
    match page {
        Page::Settings(rows) => {
            let values: Vec<_> = rows
                .iter()
                .map(|(n, v)| (settings::name.eq(n), settings::value.eq(v)))
                .collect();
            with_conn!(conn, |c| diesel::insert_into(settings::table)
                .values(&values)
                .execute(c))
        }
        Page::Providers(rows) => with_conn!(conn, |c| diesel::insert_into(providers::table)
            .values(rows)
            .execute(c)),
        Page::Keys(rows) => with_conn!(conn, |c| diesel::insert_into(signing_keys::table)
            .values(rows)
            .execute(c)),
        Page::Revocations(rows) => with_conn!(conn, |c| diesel::insert_into(revocations::table)
            .values(rows)
            .execute(c)),
    }
}

/// After every table was written: on PostgreSQL the revocation sequence moves past the
/// copied ones, so verifiers polling "after N" keep seeing new revocations.
pub fn finish(conn: &mut Conn<'_>) -> QueryResult<()> {
    if let Conn::Pg(c) = conn {
        diesel::sql_query(
            "SELECT setval(pg_get_serial_sequence('revocations', 'sequence'), \
             COALESCE((SELECT max(sequence) FROM revocations), 0) + 1, false)",
        )
        .execute(&mut **c)?;
        // Fresh statistics after a bulk load, as after any: plans the services prepare
        // from the first request on see the tables' real sizes.
        diesel::sql_query("ANALYZE").execute(&mut **c)?;
    }
    Ok(())
}
