//! One `/Bulk` request of 100 user creates against the same 100 creates as `POST /Users`
//! requests sent one after the other on one connection, as a client without Bulk sends
//! them. Each round does both, alternating which goes first, with userNames no other
//! round uses; the result is the median of each over the rounds.

use std::time::{Duration, Instant};

use http::Method;
use serde_json::{Value, json};

use crate::api::{self, Api, ApiError};
use crate::load::Conn;

/// Creates per Bulk request (and POSTs per round).
pub const CREATES: usize = 100;

/// Rounds of the comparison (each creates `2 × CREATES` users).
pub const ROUNDS: usize = 5;

/// What the comparison measured.
#[derive(Debug, Clone, Default)]
pub struct BulkResult {
    /// Time of each round's 100 POSTs.
    pub posts: Vec<Duration>,
    /// Time of each round's one Bulk request.
    pub bulk: Vec<Duration>,
    /// Something a response got wrong (an operation that did not answer 201), if any.
    pub problem: Option<String>,
}

impl BulkResult {
    /// Median time of 100 POSTs.
    pub fn posts_median(&self) -> Duration {
        median(&self.posts)
    }

    /// Median time of one Bulk request.
    pub fn bulk_median(&self) -> Duration {
        median(&self.bulk)
    }

    /// How many times faster the Bulk request is than the POSTs (medians).
    pub fn speedup(&self) -> f64 {
        let b = self.bulk_median().as_secs_f64();
        if b > 0.0 {
            self.posts_median().as_secs_f64() / b
        } else {
            0.0
        }
    }
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// The Bulk request creating users `first..first + CREATES` of round `tag`.
pub fn bulk_body(tag: &str, first: u64) -> Value {
    let ops: Vec<Value> = (first..first + CREATES as u64)
        .map(|seq| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("u{seq}"),
                   "data": api::new_user_json(tag, seq)})
        })
        .collect();
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops})
}

/// Whether every operation of a Bulk response answered 201.
fn all_created(response: &Value) -> Result<(), String> {
    let ops = response["Operations"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let created = ops.iter().filter(|o| o["status"] == "201").count();
    if created == CREATES {
        Ok(())
    } else {
        let first_failure = ops.iter().find(|o| o["status"] != "201");
        Err(format!(
            "a Bulk request created {created} of {CREATES} users; first failure: {}",
            first_failure.map_or_else(String::new, Value::to_string)
        ))
    }
}

/// Runs `rounds` rounds on one connection; `tag` keeps the userNames unique to this run.
pub async fn compare(api: &Api, rounds: usize, tag: &str) -> Result<BulkResult, ApiError> {
    let mut conn = Conn::open(api.addr).await?;
    let mut result = BulkResult::default();
    let tag = format!("bulk{tag}");
    for round in 0..rounds.max(1) {
        let base = (round * 2 * CREATES) as u64;
        let posts_first = round % 2 == 0;
        for part in 0..2 {
            if (part == 0) == posts_first {
                let began = Instant::now();
                for seq in base..base + CREATES as u64 {
                    api.call(
                        &mut conn,
                        "creating a user",
                        Method::POST,
                        "/scim/v2/Users",
                        Some(&api::new_user_json(&tag, seq)),
                    )
                    .await?;
                }
                result.posts.push(began.elapsed());
            } else {
                let body = bulk_body(&tag, base + CREATES as u64);
                let began = Instant::now();
                let response = api
                    .call(
                        &mut conn,
                        "a Bulk request",
                        Method::POST,
                        "/scim/v2/Bulk",
                        Some(&body),
                    )
                    .await?;
                result.bulk.push(began.elapsed());
                if let Err(p) = all_created(&response)
                    && result.problem.is_none()
                {
                    result.problem = Some(p);
                }
            }
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bulk_body_creates_distinct_users() {
        let b = bulk_body("t", 100);
        let ops = b["Operations"].as_array().unwrap();
        assert_eq!(ops.len(), CREATES);
        assert_eq!(ops[0]["bulkId"], "u100");
        assert_ne!(ops[0]["data"]["userName"], ops[1]["data"]["userName"]);
    }

    #[test]
    fn a_response_with_a_failure_is_a_problem() {
        let ok: Vec<Value> = (0..CREATES).map(|_| json!({"status": "201"})).collect();
        assert!(all_created(&json!({"Operations": ok})).is_ok());
        let mut bad = ok.clone();
        bad[7] = json!({"status": "409"});
        let e = all_created(&json!({"Operations": bad})).unwrap_err();
        assert!(e.contains("99 of 100") && e.contains("409"), "{e}");
    }

    #[test]
    fn speedup_is_the_ratio_of_medians() {
        let ms = Duration::from_millis;
        let r = BulkResult {
            posts: vec![ms(300), ms(100), ms(200)],
            bulk: vec![ms(50), ms(40), ms(60)],
            problem: None,
        };
        assert_eq!(r.posts_median(), ms(200));
        assert!((r.speedup() - 4.0).abs() < 1e-9);
    }
}
