//! Throttling of client-secret guessing.
//!
//! Failed client authentications are counted per client id, in memory. The first
//! [`FREE_FAILURES`] - 1 failures cost nothing; from the [`FREE_FAILURES`]th on, the
//! client id is refused for 2^(n-5) seconds after the n-th consecutive failure (1, 2,
//! 4, … capped at [`MAX_LOCKOUT`]), with `RESOURCE_EXHAUSTED` "retry after N seconds"
//! and a `retry-after` metadata entry. While locked, attempts are refused without
//! looking at the secret and without counting. A successful authentication resets the
//! count, and a count that has seen no failure for [`FORGET_AFTER`] starts over.
//!
//! Every lockout expires by itself: an attacker can slow a client id down to one
//! attempt per [`MAX_LOCKOUT`], but cannot lock it out for good. The flip side is that
//! an attacker who keeps guessing keeps the legitimate client slow too; limits per
//! source address belong in front of the service (the gateway) and complement this.
//! With 256-bit secrets the throttle is about noise and load, not about the odds of a
//! guess succeeding.
//!
//! Unknown client ids are counted like known ones, so the answers do not reveal which
//! ids exist. The table is bounded ([`CAPACITY`] entries; the oldest are evicted), and
//! ids longer than any real one are not tracked at all. The state is per process:
//! behind N replicas an attacker gets N times the attempts, which the exponential
//! back-off still keeps small.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

/// Counts failed client authentications and locks client ids out.
#[derive(Debug, Default)]
pub struct Guard {
    entries: Mutex<HashMap<String, Entry>>,
}

/// The lockout after `failures` consecutive failures, if any.
fn lockout_for(failures: u32) -> Option<Duration> {
    let over = failures.checked_sub(FREE_FAILURES)?;
    let secs = 1u64.checked_shl(over).unwrap_or(u64::MAX);
    Some(Duration::from_secs(secs).min(MAX_LOCKOUT))
}

impl Guard {
    /// `Err(seconds to wait)` while `client_id` is locked out.
    pub fn check(&self, client_id: &str) -> Result<(), u64> {
        self.check_at(client_id, Instant::now())
    }

    /// Records a failed authentication of `client_id`.
    pub fn record_failure(&self, client_id: &str) {
        self.record_failure_at(client_id, Instant::now());
    }

    /// Records a successful authentication: the count starts over.
    pub fn record_success(&self, client_id: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(client_id);
    }

    fn check_at(&self, client_id: &str, now: Instant) -> Result<(), u64> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(client_id).and_then(|e| e.locked_until) {
            Some(until) if until > now => {
                let wait = until - now;
                // Round up: "retry after 0 seconds" would invite an immediate retry.
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Err(secs.max(1))
            }
            _ => Ok(()),
        }
    }

    fn record_failure_at(&self, client_id: &str, now: Instant) {
        if client_id.len() > MAX_TRACKED_ID_LEN {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if !entries.contains_key(client_id) && entries.len() >= CAPACITY {
            evict(&mut entries, now);
        }
        let entry = entries.entry(client_id.to_owned()).or_insert(Entry {
            failures: 0,
            last_failure: now,
            locked_until: None,
        });
        if now.duration_since(entry.last_failure) > FORGET_AFTER {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        entry.locked_until = lockout_for(entry.failures).map(|d| now + d);
    }

    /// Number of tracked client ids.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no client id is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Makes room: drops forgotten entries, then the oldest tenth if still full. Evicting
/// in batches keeps the cost per new client id small under a flood of random ids.
fn evict(entries: &mut HashMap<String, Entry>, now: Instant) {
    entries.retain(|_, e| {
        now.duration_since(e.last_failure) <= FORGET_AFTER
            || e.locked_until.is_some_and(|u| u > now)
    });
    if entries.len() < CAPACITY {
        return;
    }
    let mut ages: Vec<(Instant, String)> = entries
        .iter()
        .map(|(k, e)| (e.last_failure, k.clone()))
        .collect();
    let batch = (CAPACITY / 10).max(1);
    ages.select_nth_unstable_by_key(batch - 1, |(t, _)| *t);
    for (_, key) in ages.into_iter().take(batch) {
        entries.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let guard = Guard::default();
        let t0 = Instant::now();
        for _ in 0..4 {
            guard.record_failure_at("c", t0);
            assert_eq!(guard.check_at("c", t0), Ok(()));
        }
        guard.record_failure_at("c", t0);
        assert_eq!(guard.check_at("c", t0), Err(1));
        assert_eq!(guard.check_at("c", t0 + Duration::from_millis(999)), Err(1));
        assert_eq!(guard.check_at("c", t0 + Duration::from_secs(1)), Ok(()));
        assert_eq!(guard.check_at("other", t0), Ok(()));
    }

    #[test]
    fn every_lockout_expires_by_itself() {
        let guard = Guard::default();
        let t0 = Instant::now();
        for _ in 0..100 {
            guard.record_failure_at("c", t0);
        }
        assert_eq!(guard.check_at("c", t0), Err(60));
        assert_eq!(guard.check_at("c", t0 + MAX_LOCKOUT), Ok(()));
    }

    #[test]
    fn success_resets_the_count() {
        let guard = Guard::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            guard.record_failure_at("c", t0);
        }
        guard.record_success("c");
        assert_eq!(guard.check_at("c", t0), Ok(()));
        guard.record_failure_at("c", t0);
        assert_eq!(guard.check_at("c", t0), Ok(()));
    }

    #[test]
    fn old_failures_are_forgotten() {
        let guard = Guard::default();
        let t0 = Instant::now();
        for _ in 0..4 {
            guard.record_failure_at("c", t0);
        }
        let later = t0 + FORGET_AFTER + Duration::from_secs(1);
        guard.record_failure_at("c", later);
        assert_eq!(guard.check_at("c", later), Ok(()));
    }

    #[test]
    fn the_table_stays_bounded_under_a_flood_of_unknown_ids() {
        let guard = Guard::default();
        let t0 = Instant::now();
        for i in 0..(CAPACITY + 2_500) {
            guard.record_failure_at(&format!("id-{i}"), t0 + Duration::from_millis(i as u64));
        }
        assert!(guard.len() <= CAPACITY, "{}", guard.len());
        // The newest ids are still tracked.
        let last = format!("id-{}", CAPACITY + 2_499);
        assert!(guard.entries.lock().unwrap().contains_key(&last));
    }

    #[test]
    fn absurdly_long_ids_are_not_tracked() {
        let guard = Guard::default();
        let long = "x".repeat(MAX_TRACKED_ID_LEN + 1);
        for _ in 0..10 {
            guard.record_failure(&long);
        }
        assert!(guard.is_empty());
    }
}
