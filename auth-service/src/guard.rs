//! Throttling of client-secret guessing, shared by every replica.
//!
//! Failed client authentications are counted per client id in the database
//! ([`crate::db::failures`]), so N replicas on one database do not give a guesser N
//! times the attempts. The first [`FREE_FAILURES`] - 1 failures cost nothing; from the
//! [`FREE_FAILURES`]th on, the client id is refused for 2^(n-5) seconds after the n-th
//! consecutive failure (1, 2, 4, … capped at [`MAX_LOCKOUT`]), with
//! `RESOURCE_EXHAUSTED` "retry after N seconds" and a `retry-after` metadata entry.
//! While locked, attempts are refused without looking at the secret and without
//! counting. A successful authentication resets the count, and a count that has seen
//! no failure for [`FORGET_AFTER`] starts over.
//!
//! Every lockout expires by itself: an attacker can slow a client id down to one
//! attempt per [`MAX_LOCKOUT`], but cannot lock it out for good. The flip side is that
//! an attacker who keeps guessing keeps the legitimate client slow too; limits per
//! source address belong in front of the service (the gateway) and complement this.
//! With 256-bit secrets the throttle is about noise and load, not about the odds of a
//! guess succeeding.
//!
//! Unknown client ids are counted like known ones, so the answers do not reveal which
//! ids exist. The table is bounded: records are forgotten [`FORGET_AFTER`] after their
//! last failure, at most [`CAPACITY`] are kept (the oldest go first), and ids that
//! could never be a client id (too long, or outside the base64url alphabet ids are made
//! of) are never written. This module decides; the authority runs the decisions against
//! the database in one transaction per failure.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::db::failures::FailureRow;
use crate::db::{from_db, to_db};

/// Failures tolerated before the first lockout.
pub const FREE_FAILURES: u32 = 5;
/// The longest single lockout.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(60);
/// A failure count with no new failure for this long is forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Most client ids tracked at once.
pub const CAPACITY: usize = 10_000;
/// Client ids longer than this are never valid and are not tracked.
const MAX_TRACKED_ID_LEN: usize = 128;

/// The lockout after `failures` consecutive failures, if any.
fn lockout_for(failures: u32) -> Option<Duration> {
    let over = failures.checked_sub(FREE_FAILURES)?;
    let secs = 1u64.checked_shl(over).unwrap_or(u64::MAX);
    Some(Duration::from_secs(secs).min(MAX_LOCKOUT))
}

/// Whether failures of `client_id` are recorded at all.
pub fn tracked(client_id: &str) -> bool {
    !client_id.is_empty()
        && client_id.len() <= MAX_TRACKED_ID_LEN
        && client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `Err(seconds to wait)` while `record` locks its client id out at `now`.
pub fn check(record: Option<&FailureRow>, now: DateTime<Utc>) -> Result<(), u64> {
    match record.and_then(|r| r.locked_until) {
        Some(until) if from_db(until) > now => {
            let wait = (from_db(until) - now).to_std().unwrap_or_default();
            // Round up: "retry after 0 seconds" would invite an immediate retry.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            Err(secs.max(1))
        }
        _ => Ok(()),
    }
}

/// The record after one more failure of `client_id` at `now`, given the stored one.
pub fn after_failure(
    client_id: &str,
    previous: Option<&FailureRow>,
    now: DateTime<Utc>,
) -> FailureRow {
    let forget = chrono::Duration::from_std(FORGET_AFTER).unwrap_or_default();
    let earlier = previous
        .filter(|p| now - from_db(p.last_failure) <= forget)
        .map_or(0, |p| u32::try_from(p.failures).unwrap_or(0));
    let failures = earlier.saturating_add(1);
    let locked_until = lockout_for(failures)
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .map(|d| to_db(now + d));
    FailureRow {
        client_id: client_id.to_owned(),
        failures: i32::try_from(failures).unwrap_or(i32::MAX),
        last_failure: to_db(now),
        locked_until,
    }
}

/// Records older than this at `now` are forgotten.
pub fn forget_before(now: DateTime<Utc>) -> DateTime<Utc> {
    now - chrono::Duration::from_std(FORGET_AFTER + MAX_LOCKOUT).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies `n` failures at `t` and returns the record.
    fn fail(n: usize, mut record: Option<FailureRow>, t: DateTime<Utc>) -> Option<FailureRow> {
        for _ in 0..n {
            record = Some(after_failure("c", record.as_ref(), t));
        }
        record
    }

    #[test]
    fn lockouts_double_from_the_fifth_failure_and_cap_at_a_minute() {
        assert_eq!(lockout_for(4), None);
        assert_eq!(lockout_for(5), Some(Duration::from_secs(1)));
        assert_eq!(lockout_for(6), Some(Duration::from_secs(2)));
        assert_eq!(lockout_for(10), Some(Duration::from_secs(32)));
        assert_eq!(lockout_for(11), Some(MAX_LOCKOUT));
        assert_eq!(lockout_for(u32::MAX), Some(MAX_LOCKOUT));
    }

    #[test]
    fn four_failures_cost_nothing_and_the_fifth_locks_for_a_second() {
        let t0 = Utc::now();
        let four = fail(4, None, t0);
        assert_eq!(check(four.as_ref(), t0), Ok(()));
        let five = fail(1, four, t0);
        assert_eq!(check(five.as_ref(), t0), Err(1));
        let almost = t0 + chrono::Duration::milliseconds(999);
        assert_eq!(check(five.as_ref(), almost), Err(1));
        assert_eq!(
            check(five.as_ref(), t0 + chrono::Duration::seconds(1)),
            Ok(())
        );
        assert_eq!(check(None, t0), Ok(()));
    }

    #[test]
    fn every_lockout_expires_by_itself() {
        let t0 = Utc::now();
        let many = fail(100, None, t0);
        assert_eq!(check(many.as_ref(), t0), Err(60));
        let later = t0 + chrono::Duration::from_std(MAX_LOCKOUT).unwrap();
        assert_eq!(check(many.as_ref(), later), Ok(()));
    }

    #[test]
    fn old_failures_are_forgotten() {
        let t0 = Utc::now();
        let four = fail(4, None, t0);
        let later =
            t0 + chrono::Duration::from_std(FORGET_AFTER).unwrap() + chrono::Duration::seconds(1);
        let fifth = fail(1, four, later);
        assert_eq!(fifth.as_ref().map(|r| r.failures), Some(1));
        assert_eq!(check(fifth.as_ref(), later), Ok(()));
    }

    #[test]
    fn only_ids_that_could_exist_are_tracked() {
        assert!(tracked("Zm9vYmFyYmF6-_09"));
        assert!(!tracked(""));
        assert!(!tracked(&"x".repeat(MAX_TRACKED_ID_LEN + 1)));
        assert!(!tracked("has space"));
        assert!(!tracked("quote'"));
    }
}
