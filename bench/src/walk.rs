//! Okta's import walk: `startIndex=1, 101, 201, …` with `count=100`, one page after the
//! other on one connection, to the end of the directory; and the same walk by cursor
//! (RFC 9865: `cursor=` then each page's `nextCursor`).
//!
//! Every page is timed. The walk is repeated and each page's time is the median over
//! the repetitions, so a single scheduler hiccup does not decide "the last page". The
//! walk also checks what an import relies on: every user seen exactly once.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use http::Method;

use crate::api::{self, Api, ApiError};
use crate::load::Conn;

/// Page size Okta asks for.
pub const PAGE: usize = 100;

/// Timings of the walk.
#[derive(Debug, Clone, Default)]
pub struct WalkResult {
    /// `totalResults` the server reported.
    pub total: usize,
    /// Median time of each page, in walk order.
    pub pages: Vec<Duration>,
    /// How many walks the medians are taken over.
    pub walks: usize,
    /// Whole-walk time of each repetition.
    pub walk_times: Vec<Duration>,
    /// Problems with what the pages returned (duplicates, gaps), if any.
    pub problem: Option<String>,
}

impl WalkResult {
    /// Median time of the first page.
    pub fn first(&self) -> Duration {
        self.pages.first().copied().unwrap_or_default()
    }

    /// Median time of the last page.
    pub fn last(&self) -> Duration {
        self.pages.last().copied().unwrap_or_default()
    }

    /// The slowest page (of the medians).
    pub fn max(&self) -> Duration {
        self.pages.iter().copied().max().unwrap_or_default()
    }

    /// Median over all pages.
    pub fn median_page(&self) -> Duration {
        median(self.pages.clone())
    }

    /// Last page time over first page time.
    pub fn last_over_first(&self) -> f64 {
        let first = self.first().as_secs_f64();
        if first > 0.0 {
            self.last().as_secs_f64() / first
        } else {
            0.0
        }
    }
}

/// The median of some durations (the upper one of an even count).
fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// How a walk asks for its pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `startIndex`, as Okta and Entra page.
    Index,
    /// `cursor` (RFC 9865).
    Cursor,
}

/// One walk: page times, totalResults, and whether the pages were consistent.
async fn walk_once(
    api: &Api,
    conn: &mut Conn,
    paging: Paging,
) -> Result<(Vec<Duration>, usize, Option<String>), ApiError> {
    let mut times = Vec::new();
    let mut seen = HashSet::new();
    let mut duplicates = 0usize;
    let mut total = None;
    let mut start = 1;
    let mut cursor = Some(String::new());
    loop {
        let path = match (paging, &cursor) {
            (Paging::Index, _) => api::page(start, PAGE),
            (Paging::Cursor, Some(c)) => api::cursor_page(c, PAGE),
            (Paging::Cursor, None) => break,
        };
        let began = Instant::now();
        let body = api
            .call(conn, "reading a page", Method::GET, &path, None)
            .await?;
        times.push(began.elapsed());
        let reported = body["totalResults"].as_u64().map(|t| t as usize);
        let total_now = *total.get_or_insert(reported.unwrap_or(0));
        let resources = body["Resources"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        for r in resources {
            if let Some(id) = r["id"].as_str()
                && !seen.insert(id.to_owned())
            {
                duplicates += 1;
            }
        }
        start += PAGE;
        cursor = body["nextCursor"].as_str().map(str::to_owned);
        let done = match paging {
            Paging::Index => start > total_now,
            Paging::Cursor => cursor.is_none(),
        };
        if resources.is_empty() || done {
            break;
        }
    }
    let total = total.unwrap_or(0);
    let problem = (duplicates > 0 || seen.len() != total).then(|| {
        format!(
            "walk saw {} distinct users of totalResults {total} ({duplicates} duplicates)",
            seen.len()
        )
    });
    Ok((times, total, problem))
}

/// Walks the directory `walks` times on one connection, paging as `paging` says.
pub async fn import_walk(api: &Api, walks: usize, paging: Paging) -> Result<WalkResult, ApiError> {
    let mut conn = Conn::open(api.addr).await?;
    let mut runs: Vec<Vec<Duration>> = Vec::new();
    let mut result = WalkResult {
        walks: walks.max(1),
        ..Default::default()
    };
    for _ in 0..walks.max(1) {
        let began = Instant::now();
        let (times, total, problem) = walk_once(api, &mut conn, paging).await?;
        result.walk_times.push(began.elapsed());
        result.total = total;
        if result.problem.is_none() {
            result.problem = problem;
        }
        runs.push(times);
    }
    let pages = runs.iter().map(Vec::len).min().unwrap_or(0);
    result.pages = (0..pages)
        .map(|p| median(runs.iter().map(|r| r[p]).collect()))
        .collect();
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::extract::Query;
    use axum::routing::get;
    use serde_json::{Value, json};
    use std::collections::HashMap;

    /// A directory of `n` users served in pages; with `dup`, the second page repeats the
    /// first user.
    async fn directory(n: usize, dup: bool) -> Api {
        let app = Router::new().route(
            "/scim/v2/Users",
            get(move |Query(q): Query<HashMap<String, String>>| async move {
                let start: usize = q["startIndex"].parse().unwrap();
                let count: usize = q["count"].parse().unwrap();
                let mut ids: Vec<usize> = (start..(start + count).min(n + 1)).collect();
                if dup && start == 101 {
                    ids[0] = 1;
                }
                let resources: Vec<Value> =
                    ids.iter().map(|i| json!({"id": format!("u{i}")})).collect();
                axum::Json(json!({"totalResults": n, "Resources": resources}))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Api {
            addr,
            host: addr.to_string(),
            token: "t".into(),
        }
    }

    #[tokio::test]
    async fn walks_every_page_to_the_end() {
        let api = directory(250, false).await;
        let r = import_walk(&api, 3, Paging::Index).await.unwrap();
        assert_eq!(r.total, 250);
        assert_eq!(r.pages.len(), 3, "1, 101, 201");
        assert_eq!(r.walk_times.len(), 3);
        assert!(r.problem.is_none(), "{:?}", r.problem);
        assert!(r.max() >= r.first() && r.max() >= r.last());
        assert!(r.last_over_first() > 0.0);
    }

    #[tokio::test]
    async fn duplicates_are_reported() {
        let api = directory(250, true).await;
        let r = import_walk(&api, 1, Paging::Index).await.unwrap();
        let p = r.problem.expect("a duplicate is a problem");
        assert!(p.contains("1 duplicates"), "{p}");
    }

    #[test]
    fn median_of_durations() {
        let ms = Duration::from_millis;
        assert_eq!(median(vec![ms(5), ms(1), ms(3)]), ms(3));
        assert_eq!(median(vec![]), Duration::ZERO);
    }
}
