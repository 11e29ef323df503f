//! Load generation: a fixed pool of HTTP/1.1 connections, one request in flight on each.
//!
//! Each of the N tasks owns exactly one keep-alive connection (a hyper `http1`
//! handshake over its own `TcpStream`), so "32 connections" means 32 sockets and at
//! most 32 outstanding requests — the closed-loop shape an IdP's provisioning workers
//! have. Latencies go into an HDR histogram in microseconds, so p99 is exact to three
//! significant digits whatever the spread.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Request body type of every request the harness sends.
pub type Body = Full<Bytes>;

/// Longest a single request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Largest latency the histogram records, in microseconds (one minute).
const MAX_LATENCY_US: u64 = 60_000_000;

/// Failures of the transport (not HTTP error statuses, which are counted).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The TCP connection could not be opened.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// Target address.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// hyper failed (handshake, send or body).
    #[error("HTTP transport error: {0}")]
    Http(#[from] hyper::Error),
    /// The request took longer than the timeout.
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    /// A histogram could not be created (bounds are constants, so this is a bug).
    #[error("histogram: {0}")]
    Histogram(String),
}

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    addr: SocketAddr,
    sender: http1::SendRequest<Body>,
}

impl Conn {
    /// Opens a connection and spawns its driver task.
    pub async fn open(addr: SocketAddr) -> Result<Self, LoadError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| LoadError::Connect { addr, source })?;
        // Requests are small and latency-bound: do not let Nagle hold them back.
        stream
            .set_nodelay(true)
            .map_err(|source| LoadError::Connect { addr, source })?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // The connection ends when the sender is dropped or the server closes it;
            // either way the next send reports it.
            let _ = connection.await;
        });
        Ok(Self { addr, sender })
    }

    /// The address this connection goes to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends one request and reads the whole response body.
    pub async fn send(&mut self, request: Request<Body>) -> Result<(StatusCode, Bytes), LoadError> {
        let exchange = async {
            self.sender.ready().await?;
            let response = self.sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, LoadError>((status, body))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| LoadError::Timeout(REQUEST_TIMEOUT))?
    }
}

/// Builds a request with the headers every harness request carries.
///
/// `path` includes the query string; `json` bodies are sent as `application/scim+json`
/// unless `content_type` says otherwise.
pub fn request(
    method: Method,
    host: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&'static str, Bytes)>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(headers) = builder.headers_mut() {
        if let Ok(v) = HeaderValue::from_str(host) {
            headers.insert(header::HOST, v);
        }
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/scim+json, application/json"),
        );
        if let Some(t) = token
            && let Ok(v) = HeaderValue::from_str(&format!("Bearer {t}"))
        {
            headers.insert(header::AUTHORIZATION, v);
        }
        if let Some((ct, _)) = &body {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        }
    }
    let body = body.map(|(_, b)| b).unwrap_or_default();
    builder
        .body(Full::new(body))
        // Only an invalid path can fail here; send it as an empty GET that the server
        // will answer with an error status, which the harness counts.
        .unwrap_or_else(|_| Request::new(Full::new(Bytes::new())))
}

/// One request of a scenario and whether its latency counts.
pub struct Planned {
    /// The request.
    pub request: Request<Body>,
    /// Whether the latency goes into the histogram (all requests count towards
    /// throughput and errors).
    pub measured: bool,
}

impl Planned {
    /// A measured request.
    pub fn measured(request: Request<Body>) -> Self {
        Self {
            request,
            measured: true,
        }
    }
}

/// Which request of a run is being built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// Sequence number, unique across all connections of the run.
    pub seq: u64,
    /// Index of the connection sending it.
    pub conn: usize,
    /// How many requests this connection sent before this one.
    pub local: u64,
}

/// Produces the request for a tick. Requests of one connection are sent one after the
/// other, so a source can rely on per-connection order (e.g. add, then remove).
pub type Source = Arc<dyn Fn(Tick) -> Planned + Send + Sync>;

/// How long and how wide a run is.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Concurrent connections.
    pub connections: usize,
    /// Unrecorded time before the measurement starts.
    pub warmup: Duration,
    /// Measured time.
    pub duration: Duration,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// 2xx responses to requests started inside the measured window.
    pub ok: u64,
    /// Non-2xx responses and transport failures inside the measured window.
    pub errors: u64,
    /// From the end of the warm-up to the last measured response.
    pub elapsed: Duration,
    /// Latency of measured 2xx requests, in microseconds.
    pub latency: Histogram<u64>,
    /// The first error seen (status and the start of the body), for diagnosis.
    pub first_error: Option<String>,
    /// Every request sent, warm-up included (to divide CPU time measured around the
    /// whole run).
    pub sent: u64,
    /// CPU time each observed server process used during the whole run, warm-up
    /// included; filled in by the caller, which knows the processes.
    pub cpu: Vec<(String, Duration)>,
}

impl LoadResult {
    /// Successful requests per second.
    pub fn rps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    /// Latency quantile in milliseconds (0 when nothing was measured).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latency.is_empty() {
            return 0.0;
        }
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    /// Median latency in milliseconds.
    pub fn p50_ms(&self) -> f64 {
        self.quantile_ms(0.50)
    }

    /// 99th percentile latency in milliseconds.
    pub fn p99_ms(&self) -> f64 {
        self.quantile_ms(0.99)
    }

    /// CPU milliseconds per request of each observed process.
    pub fn cpu_per_request_ms(&self) -> Vec<(String, f64)> {
        let n = self.sent.max(1) as f64;
        self.cpu
            .iter()
            .map(|(name, d)| (name.clone(), d.as_secs_f64() * 1000.0 / n))
            .collect()
    }
}

/// A fresh latency histogram in microseconds.
pub fn histogram() -> Result<Histogram<u64>, LoadError> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
        .map_err(|e| LoadError::Histogram(e.to_string()))
}

/// Records one latency, clamped into the histogram's range.
pub fn record(hist: &mut Histogram<u64>, latency: Duration) {
    let us = u64::try_from(latency.as_micros()).unwrap_or(MAX_LATENCY_US);
    hist.saturating_record(us.clamp(1, MAX_LATENCY_US));
}

/// Per-connection tally, merged at the end.
struct Tally {
    ok: u64,
    errors: u64,
    latency: Histogram<u64>,
    first_error: Option<String>,
    last_done: Option<Instant>,
}

impl Tally {
    fn error(&mut self, what: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what);
        }
    }
}

/// Describes an error response briefly.
fn describe(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let snippet: String = text.chars().take(200).collect();
    format!("{status}: {snippet}")
}

/// Runs `source` against `addr` with a closed loop of `shape.connections` connections.
///
/// Every connection is opened before the clock starts. A broken connection is reopened
/// and the failure counted; if it cannot be reopened, that connection stops.
pub async fn run(addr: SocketAddr, shape: Shape, source: Source) -> Result<LoadResult, LoadError> {
    let mut conns = Vec::with_capacity(shape.connections);
    for _ in 0..shape.connections {
        conns.push(Conn::open(addr).await?);
    }
    let seq = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + shape.warmup;
    let end = measure_from + shape.duration;

    let mut tasks = Vec::with_capacity(conns.len());
    for (conn_idx, mut conn) in conns.into_iter().enumerate() {
        let seq = Arc::clone(&seq);
        let source = Arc::clone(&source);
        let mut tally = Tally {
            ok: 0,
            errors: 0,
            latency: histogram()?,
            first_error: None,
            last_done: None,
        };
        tasks.push(tokio::spawn(async move {
            let mut local = 0;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let planned = source(Tick {
                    seq: seq.fetch_add(1, Ordering::Relaxed),
                    conn: conn_idx,
                    local,
                });
                local += 1;
                let outcome = conn.send(planned.request).await;
                let done = Instant::now();
                let counts = sent >= measure_from;
                match outcome {
                    Ok((status, body)) => {
                        if !counts {
                            continue;
                        }
                        tally.last_done = Some(done);
                        if status.is_success() {
                            tally.ok += 1;
                            if planned.measured {
                                record(&mut tally.latency, done - sent);
                            }
                        } else {
                            tally.error(describe(status, &body));
                        }
                    }
                    Err(e) => {
                        if counts {
                            tally.last_done = Some(done);
                            tally.error(e.to_string());
                        }
                        match Conn::open(conn.addr()).await {
                            Ok(fresh) => conn = fresh,
                            Err(e) => {
                                tally.error(e.to_string());
                                break;
                            }
                        }
                    }
                }
            }
            tally
        }));
    }

    let mut result = LoadResult {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency: histogram()?,
        first_error: None,
        sent: 0,
        cpu: Vec::new(),
    };
    let mut last_done = measure_from;
    for task in tasks {
        let tally = match task.await {
            Ok(t) => t,
            Err(e) => {
                result.errors += 1;
                result
                    .first_error
                    .get_or_insert_with(|| format!("load task failed: {e}"));
                continue;
            }
        };
        result.ok += tally.ok;
        result.errors += tally.errors;
        // Same bounds on both sides, so adding cannot fail; count it if it ever does.
        if result.latency.add(&tally.latency).is_err() {
            result.errors += 1;
        }
        if result.first_error.is_none() {
            result.first_error = tally.first_error;
        }
        if let Some(t) = tally.last_done {
            last_done = last_done.max(t);
        }
    }
    // Every task has joined, so every request it took a number for was answered.
    result.sent = seq.load(Ordering::Relaxed);
    result.elapsed = last_done
        .saturating_duration_since(measure_from)
        .max(shape.duration);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use std::sync::atomic::AtomicUsize;

    /// A server that answers `/ok` with 200 and `/fail` with 503, counting requests
    /// and connections.
    async fn server() -> (SocketAddr, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = Arc::clone(&hits);
        let app = Router::new()
            .route(
                "/ok",
                get(move || {
                    h.fetch_add(1, Ordering::Relaxed);
                    async { "fine" }
                }),
            )
            .route(
                "/fail",
                get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (addr, hits)
    }

    fn shape() -> Shape {
        Shape {
            connections: 4,
            warmup: Duration::from_millis(50),
            duration: Duration::from_millis(300),
        }
    }

    #[tokio::test]
    async fn counts_successes_and_records_latency() {
        let (addr, hits) = server().await;
        let host = addr.to_string();
        let source: Source =
            Arc::new(move |_| Planned::measured(request(Method::GET, &host, "/ok", None, None)));
        let r = run(addr, shape(), source).await.unwrap();
        assert!(r.ok > 0);
        assert_eq!(r.errors, 0);
        assert_eq!(r.latency.len(), r.ok);
        // The warm-up requests are sent but not counted.
        assert!(r.sent > r.ok);
        assert_eq!(hits.load(Ordering::Relaxed) as u64, r.sent);
        // The server saw at least the measured requests (plus the warm-up ones).
        assert!(hits.load(Ordering::Relaxed) as u64 >= r.ok);
        assert!(r.elapsed >= Duration::from_millis(300));
        assert!(r.rps() > 0.0);
        assert!(r.p50_ms() > 0.0 && r.p50_ms() <= r.p99_ms());
    }

    #[tokio::test]
    async fn error_statuses_are_counted_and_described() {
        let (addr, _) = server().await;
        let host = addr.to_string();
        let source: Source = Arc::new(move |t: Tick| {
            let path = if t.seq.is_multiple_of(2) {
                "/ok"
            } else {
                "/fail"
            };
            Planned::measured(request(Method::GET, &host, path, None, None))
        });
        let r = run(addr, shape(), source).await.unwrap();
        assert!(r.errors > 0 && r.ok > 0);
        let first = r.first_error.expect("an error is described");
        assert!(first.starts_with("503"), "{first}");
        assert!(first.contains("down"));
    }

    #[tokio::test]
    async fn unmeasured_requests_count_but_are_not_timed() {
        let (addr, _) = server().await;
        let host = addr.to_string();
        let source: Source = Arc::new(move |t: Tick| Planned {
            request: request(Method::GET, &host, "/ok", None, None),
            measured: t.local.is_multiple_of(2),
        });
        let r = run(addr, shape(), source).await.unwrap();
        assert!(r.latency.len() < r.ok);
        assert!(!r.latency.is_empty());
    }

    #[tokio::test]
    async fn connect_failure_is_an_error() {
        // Bind and drop to find a port nobody listens on.
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let source: Source =
            Arc::new(|_| Planned::measured(request(Method::GET, "x", "/", None, None)));
        assert!(matches!(
            run(addr, shape(), source).await,
            Err(LoadError::Connect { .. })
        ));
    }

    #[test]
    fn request_carries_host_token_and_content_type() {
        let r = request(
            Method::POST,
            "127.0.0.1:1",
            "/scim/v2/Users",
            Some("tok"),
            Some(("application/scim+json", Bytes::from_static(b"{}"))),
        );
        assert_eq!(r.headers()[header::HOST], "127.0.0.1:1");
        assert_eq!(r.headers()[header::AUTHORIZATION], "Bearer tok");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/scim+json");
    }

    #[test]
    fn record_clamps_out_of_range_values() {
        let mut h = histogram().unwrap();
        record(&mut h, Duration::ZERO);
        record(&mut h, Duration::from_secs(3600));
        assert_eq!(h.len(), 2);
        assert_eq!(h.min(), 1);
    }
}
