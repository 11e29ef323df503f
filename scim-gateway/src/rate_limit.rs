//! Per-provider request rate limiting (token buckets keyed by OAuth client id).
//!
//! Okta only understands an integer `Retry-After`, so the wait is rounded up to whole
//! seconds. With a limit of 0 the limiter lets everything through.
//!
//! The buckets live in each gateway process: behind N gateway replicas a provider may
//! make up to N times the limit (docs/SCALING.md). Sharing them would put a database
//! or cache round trip on every SCIM request for a limit that is about fairness
//! between IdPs, not about safety; the limit per replica is the documented one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Token buckets, one per client id.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Buckets kept at most; beyond this the map is cleared (idle providers refill anyway).
const MAX_BUCKETS: usize = 10_000;

impl RateLimiter {
    /// `per_second` requests per second per client, with a burst of twice that.
    pub fn new(per_second: u32) -> Self {
        RateLimiter {
            per_second: f64::from(per_second),
            burst: f64::from(per_second) * 2.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `client_id`'s bucket; `Err(seconds)` says how long to wait.
    pub fn check(&self, client_id: &str) -> Result<(), u64> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(client_id) {
            buckets.clear();
        }
        let bucket = buckets.entry(client_id.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.per_second;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_unlimited() {
        let l = RateLimiter::new(0);
        for _ in 0..10_000 {
            assert!(l.check("a").is_ok());
        }
    }

    #[test]
    fn a_burst_beyond_the_bucket_is_refused_with_whole_seconds() {
        let l = RateLimiter::new(5);
        let allowed = (0..100).filter(|_| l.check("a").is_ok()).count();
        assert_eq!(allowed, 10, "burst is twice the rate");
        assert_eq!(l.check("a"), Err(1));
        assert!(l.check("b").is_ok(), "buckets are per client");
    }
}
