//! The two ceilings every scenario is compared with, each in a process of its own.
//!
//! * (a) one HTTP round trip to an axum handler that returns a fixed SCIM User JSON:
//!   what the HTTP stack alone costs on this machine.
//! * (b) the same handler, but it first makes one unary tonic call (gRPC health check)
//!   to a trivial service in another process, over one long-lived channel: what the
//!   gateway's shape (HTTP in, one gRPC hop out) costs before any real work.
//!
//! The harness re-executes its own binary with the hidden `ceiling-grpc` and
//! `ceiling-http` roles. A child binds port 0 and writes the address it got as the first
//! line of its standard output, so the parent never guesses or races for ports.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt as _;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::cli::{CeilingGrpcArgs, CeilingHttpArgs};
use crate::procfs::{Memory, memory_of};

/// Path of ceiling (a).
pub const PATH_A: &str = "/a/scim/v2/Users/2819c223-7f76-453a-919d-413861904646";
/// Path of ceiling (b).
pub const PATH_B: &str = "/b/scim/v2/Users/2819c223-7f76-453a-919d-413861904646";

/// A user the size and shape of what the gateway returns for one of the preloaded users.
const FIXED_USER: &str = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"2819c223-7f76-453a-919d-413861904646","externalId":"ext-000042","userName":"bench.user.000042@example.test","name":{"formatted":"Bench User 42","familyName":"User 42","givenName":"Bench"},"displayName":"Bench User 42","active":true,"emails":[{"value":"bench.user.000042@example.test","type":"work","primary":true}],"meta":{"resourceType":"User","created":"2026-01-01T00:00:00Z","lastModified":"2026-01-01T00:00:00Z","location":"http://127.0.0.1:8080/scim/v2/Users/2819c223-7f76-453a-919d-413861904646","version":"W/\"1\""}}"#;

/// Failures of the ceiling processes.
#[derive(Debug, thiserror::Error)]
pub enum CeilingError {
    /// Binding, spawning or reading a child failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A child did not report its address.
    #[error("ceiling process `{0}` did not report its address")]
    NoAddress(&'static str),
    /// The gRPC server or channel failed.
    #[error("gRPC: {0}")]
    Grpc(#[from] tonic::transport::Error),
}

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> CeilingError {
    move |source| CeilingError::Io { what, source }
}

/// The fixed response both ceilings send.
fn fixed_user() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/scim+json"),
            (header::ETAG, "W/\"1\""),
        ],
        FIXED_USER,
    )
}

async fn ceiling_a() -> impl IntoResponse {
    fixed_user()
}

async fn ceiling_b(State(client): State<HealthClient<Channel>>) -> axum::response::Response {
    // One unary call per request, on the shared channel, exactly like the gateway's
    // upstream clients: clone the client, not the connection.
    let mut client = client;
    match client
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
    {
        Ok(_) => fixed_user().into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// The router of the HTTP ceiling process.
pub fn router(grpc: Channel) -> Router {
    Router::new()
        .route("/a/scim/v2/Users/{id}", get(ceiling_a))
        .route("/b/scim/v2/Users/{id}", get(ceiling_b))
        .with_state(HealthClient::new(grpc))
}

/// Writes the bound address as the first line of standard output (the parent reads it).
fn announce(addr: SocketAddr) {
    println!("{addr}");
}

/// Runs the HTTP ceiling process until it is killed.
pub async fn serve_http(args: CeilingHttpArgs) -> Result<(), CeilingError> {
    let channel = Channel::from_shared(args.grpc_url.clone())
        .map_err(|e| CeilingError::Io {
            what: "parsing the gRPC URL",
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()),
        })?
        .connect()
        .await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(io("binding the HTTP ceiling"))?;
    announce(
        listener
            .local_addr()
            .map_err(io("reading the bound address"))?,
    );
    // The baseline is a well-configured server: responses are never held back by
    // Nagle's algorithm waiting for the client's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(channel))
        .await
        .map_err(io("serving the HTTP ceiling"))
}

/// Runs the trivial gRPC service (the standard health service) until it is killed.
pub async fn serve_grpc(args: CeilingGrpcArgs) -> Result<(), CeilingError> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(io("binding the gRPC ceiling"))?;
    let addr = listener
        .local_addr()
        .map_err(io("reading the bound address"))?;
    let (_reporter, health) = tonic_health::server::health_reporter();
    announce(addr);
    tonic::transport::Server::builder()
        .add_service(health)
        // `serve_with_incoming` ignores the builder's nodelay setting; set it here.
        .serve_with_incoming(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
        )
        .await?;
    Ok(())
}

/// The two ceiling processes, killed when dropped.
pub struct Ceilings {
    grpc: Child,
    http: Child,
    /// Address of the HTTP ceiling process (serves both [`PATH_A`] and [`PATH_B`]).
    pub http_addr: SocketAddr,
}

impl Ceilings {
    /// Starts both processes from the binary at `exe`.
    pub async fn spawn(exe: &Path) -> Result<Self, CeilingError> {
        let (grpc, grpc_addr) = spawn_role(exe, &["ceiling-grpc"], "ceiling-grpc").await?;
        let url = format!("http://{grpc_addr}");
        let (http, http_addr) =
            spawn_role(exe, &["ceiling-http", "--grpc-url", &url], "ceiling-http").await?;
        Ok(Self {
            grpc,
            http,
            http_addr,
        })
    }

    /// Names and process ids of the two processes.
    pub fn processes(&self) -> Vec<(String, Option<u32>)> {
        vec![
            ("ceiling HTTP".to_owned(), self.http.id()),
            ("ceiling gRPC".to_owned(), self.grpc.id()),
        ]
    }

    /// Peak memory of the HTTP and the gRPC ceiling processes.
    pub fn memory(&self) -> [(&'static str, Option<Memory>); 2] {
        [
            ("ceiling HTTP", self.http.id().and_then(memory_of)),
            ("ceiling gRPC", self.grpc.id().and_then(memory_of)),
        ]
    }

    /// Stops both processes.
    pub async fn stop(mut self) {
        let _ = self.http.kill().await;
        let _ = self.grpc.kill().await;
    }
}

/// Starts `exe ARGS` and reads the address from its first line of output.
async fn spawn_role(
    exe: &Path,
    args: &[&str],
    name: &'static str,
) -> Result<(Child, SocketAddr), CeilingError> {
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(io("starting a ceiling process"))?;
    let stdout = child.stdout.take().ok_or(CeilingError::NoAddress(name))?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .map_err(io("reading a ceiling's address"))?;
    let addr = line
        .trim()
        .parse()
        .map_err(|_| CeilingError::NoAddress(name))?;
    Ok((child, addr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Conn, request};
    use http::Method;

    #[test]
    fn the_fixed_user_is_valid_scim_json() {
        let v: serde_json::Value = serde_json::from_str(FIXED_USER).unwrap();
        assert_eq!(
            v["schemas"][0],
            "urn:ietf:params:scim:schemas:core:2.0:User"
        );
        assert_eq!(v["emails"][0]["type"], "work");
    }

    /// Starts both ceilings in-process (bound first, then served) and returns the HTTP
    /// address and the gRPC server's shutdown switch.
    async fn in_process() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let grpc_addr = grpc_listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (_reporter, health) = tonic_health::server::health_reporter();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(health)
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(grpc_listener),
                    async {
                        let _ = stopped.await;
                    },
                ),
        );
        let channel = Channel::from_shared(format!("http://{grpc_addr}"))
            .unwrap()
            .connect_lazy();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router(channel)).await });
        (addr, stop)
    }

    #[tokio::test]
    async fn both_ceilings_return_the_fixed_user() {
        let (addr, _stop) = in_process().await;
        let mut conn = Conn::open(addr).await.unwrap();
        for path in [PATH_A, PATH_B] {
            let (status, body) = conn
                .send(request(Method::GET, "h", path, None, None))
                .await
                .unwrap();
            assert_eq!(status, 200, "{path}");
            assert_eq!(&body[..], FIXED_USER.as_bytes());
        }
    }

    #[tokio::test]
    async fn ceiling_b_really_depends_on_the_grpc_call() {
        let (addr, stop) = in_process().await;
        let mut conn = Conn::open(addr).await.unwrap();
        let (status, _) = conn
            .send(request(Method::GET, "h", PATH_B, None, None))
            .await
            .unwrap();
        assert_eq!(status, 200);
        stop.send(()).unwrap();
        // With the gRPC server gone, (b) must fail while (a) keeps answering.
        let mut failed = false;
        for _ in 0..50 {
            let (status, _) = conn
                .send(request(Method::GET, "h", PATH_B, None, None))
                .await
                .unwrap();
            if status == StatusCode::SERVICE_UNAVAILABLE {
                failed = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(
            failed,
            "ceiling (b) kept answering without its gRPC service"
        );
        let (status, _) = conn
            .send(request(Method::GET, "h", PATH_A, None, None))
            .await
            .unwrap();
        assert_eq!(status, 200);
    }
}
