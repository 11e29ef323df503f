//! The `list_counts` table: per tenant and kind, rows ever created, rows ever deleted
//! and other changes, written in the transaction of every change.
//!
//! A list reads them in its own snapshot ([`read`]). From them come an exact total of an
//! unfiltered list (`created - deleted`) without `COUNT(*)`, and the generations that
//! tell whether a cached page position is still good ([`crate::paging::Generations`]):
//! both counters only grow, so `created + deleted` changes with every create and delete,
//! and the sum of all three with every write, whichever replica made it.
//!
//! Concurrent writers on PostgreSQL would all wait for one row's lock until they
//! commit, so each write adds to one of [`PG_SLOTS`] rows, taken in turn; a read sums
//! them. SQLite has one writer and uses slot 0.

use std::sync::atomic::{AtomicU32, Ordering};

use diesel::prelude::*;
use diesel::upsert::excluded;
use scim_storage::{Conn, with_conn};

use super::schema::list_counts;

/// Rows per tenant and kind on PostgreSQL.
pub const PG_SLOTS: u32 = 16;

/// The kind of resource a count is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Users.
    Users,
    /// Groups.
    Groups,
}

impl Kind {
    /// The stored name, which is also the list name of [`crate::listing::ListKind::NAME`].
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Users => "users",
            Kind::Groups => "groups",
        }
    }
}

/// What a write did to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Created it.
    Created,
    /// Deleted it.
    Deleted,
    /// Changed it (its attributes or members).
    Changed,
}

/// The counters of one kind in one tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindCounts {
    /// Rows ever created.
    pub created: i64,
    /// Rows ever deleted.
    pub deleted: i64,
    /// Other changes.
    pub changed: i64,
}

impl KindCounts {
    /// The rows there are now.
    pub fn live(&self) -> i64 {
        self.created - self.deleted
    }
}

/// Both kinds' counters of one tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantCounts {
    /// Users.
    pub users: KindCounts,
    /// Groups.
    pub groups: KindCounts,
}

impl TenantCounts {
    /// The counters of `kind`.
    pub fn of(&self, kind: Kind) -> KindCounts {
        match kind {
            Kind::Users => self.users,
            Kind::Groups => self.groups,
        }
    }
}

static NEXT_SLOT: AtomicU32 = AtomicU32::new(0);

/// Records `change` of one resource of `kind` in `tenant`. Call it as the last
/// statement of the write: on PostgreSQL the slot's row stays locked until the commit.
pub fn record(conn: &mut Conn<'_>, tenant: &str, kind: Kind, change: Change) -> QueryResult<()> {
    let slot = match conn {
        Conn::Sqlite(_) => 0,
        Conn::Pg(_) => (NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % PG_SLOTS) as i32,
    };
    let (created, deleted, changed) = match change {
        Change::Created => (1_i64, 0_i64, 0_i64),
        Change::Deleted => (0, 1, 0),
        Change::Changed => (0, 0, 1),
    };
    with_conn!(conn, |c| diesel::insert_into(list_counts::table)
        .values((
            list_counts::tenant.eq(tenant),
            list_counts::kind.eq(kind.as_str()),
            list_counts::slot.eq(slot),
            list_counts::created.eq(created),
            list_counts::deleted.eq(deleted),
            list_counts::changed.eq(changed),
        ))
        .on_conflict((list_counts::tenant, list_counts::kind, list_counts::slot))
        .do_update()
        .set((
            list_counts::created.eq(list_counts::created + excluded(list_counts::created)),
            list_counts::deleted.eq(list_counts::deleted + excluded(list_counts::deleted)),
            list_counts::changed.eq(list_counts::changed + excluded(list_counts::changed)),
        ))
        .execute(c))?;
    Ok(())
}

/// The counters of `tenant` as the current snapshot sees them.
pub fn read(conn: &mut Conn<'_>, tenant: &str) -> QueryResult<TenantCounts> {
    let rows: Vec<(String, i64, i64, i64)> = with_conn!(conn, |c| list_counts::table
        .filter(list_counts::tenant.eq(tenant))
        .select((
            list_counts::kind,
            list_counts::created,
            list_counts::deleted,
            list_counts::changed,
        ))
        .load(c))?;
    let mut counts = TenantCounts::default();
    for (kind, created, deleted, changed) in rows {
        let into = match kind.as_str() {
            "users" => &mut counts.users,
            "groups" => &mut counts.groups,
            _ => continue,
        };
        into.created += created;
        into.deleted += deleted;
        into.changed += changed;
    }
    Ok(counts)
}

/// Sets `tenant`'s counters to `counts` in slot 0 and removes its other slots (a
/// directory copied into an empty database starts from its live rows).
pub fn reset(conn: &mut Conn<'_>, tenant: &str, counts: &TenantCounts) -> QueryResult<()> {
    with_conn!(conn, |c| diesel::delete(
        list_counts::table.filter(list_counts::tenant.eq(tenant))
    )
    .execute(c))?;
    for kind in [Kind::Users, Kind::Groups] {
        let k = counts.of(kind);
        with_conn!(conn, |c| diesel::insert_into(list_counts::table)
            .values((
                list_counts::tenant.eq(tenant),
                list_counts::kind.eq(kind.as_str()),
                list_counts::slot.eq(0),
                list_counts::created.eq(k.created),
                list_counts::deleted.eq(k.deleted),
                list_counts::changed.eq(k.changed),
            ))
            .execute(c))?;
    }
    Ok(())
}
