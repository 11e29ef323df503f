//! Traces an observability team can read: the stack runs as three separate processes (as
//! docker-compose runs it) or as `scimctl up` (as the README runs it), exporting OTLP to
//! an in-process receiver, and the test inspects the span tree.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{Value, json};

/// Everything the receiver got.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<ExportTraceServiceRequest>>>);

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        req: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.lock().unwrap().push(req.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// A received span with its service name.
#[derive(Debug, Clone)]
struct Got {
    service: String,
    span: Span,
}

impl Got {
    fn attr(&self, key: &str) -> Option<String> {
        self.span
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| {
                kv.value
                    .as_ref()
                    .and_then(|v| v.value.as_ref())
                    .map(|v| match v {
                        AnyValue::StringValue(s) => s.clone(),
                        AnyValue::IntValue(i) => i.to_string(),
                        AnyValue::BoolValue(b) => b.to_string(),
                        AnyValue::DoubleValue(d) => d.to_string(),
                        other => format!("{other:?}"),
                    })
            })
    }
}

impl Sink {
    fn spans(&self) -> Vec<Got> {
        let mut out = Vec::new();
        for req in self.0.lock().unwrap().iter() {
            for rs in &req.resource_spans {
                let service = rs
                    .resource
                    .as_ref()
                    .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
                    .and_then(|kv| kv.value.as_ref())
                    .and_then(|v| match &v.value {
                        Some(AnyValue::StringValue(s)) => Some(s.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                for ss in &rs.scope_spans {
                    for span in &ss.spans {
                        out.push(Got {
                            service: service.clone(),
                            span: span.clone(),
                        });
                    }
                }
            }
        }
        out
    }

    /// Everything received, as text, for the personal-data check.
    fn dump(&self) -> String {
        format!("{:?}", self.0.lock().unwrap())
    }
}

fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let p = dir.join(name);
    assert!(p.exists(), "build {name} first: {}", p.display());
    p
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Stack {
    procs: Vec<Proc>,
    url: String,
    auth_url: String,
    db: scim_storage::testing::TestDatabase,
}

/// How the stack is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// The three binaries, each its own process.
    Separate,
    /// `scimctl up`: the three services in one process.
    Scimctl,
}

/// Starts the stack. Its ports are picked before the services bind them, so another
/// test may take one in between: a stack that does not become ready is stopped and
/// started again on other ports.
async fn start(otlp: Option<&str>, how: How, extra_env: &[(&str, &str)]) -> Stack {
    let db = scim_storage::testing::TestDatabase::new("identity.db");
    for _ in 0..3 {
        if let Some(s) = try_start(&db, otlp, how, extra_env).await {
            return Stack {
                procs: s.procs,
                url: s.url,
                auth_url: s.auth_url,
                db,
            };
        }
    }
    panic!("stack never became ready");
}

async fn try_start(
    db: &scim_storage::testing::TestDatabase,
    otlp: Option<&str>,
    how: How,
    extra_env: &[(&str, &str)],
) -> Option<Started> {
    let (pa, pi, pg) = (port(), port(), port());
    let url = format!("http://127.0.0.1:{pg}");
    let path = |n: &str| db.dir().join(n).to_string_lossy().into_owned();
    let database = |file: &str| match db.backend() {
        scim_storage::Backend::Sqlite => path(file),
        scim_storage::Backend::Postgres => db.url().to_owned(),
    };
    let mut envs: Vec<(&str, String)> = vec![
        ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
        ("RUST_LOG", "info".into()),
    ];
    if let Some(e) = otlp {
        envs.push(("OTEL_EXPORTER_OTLP_ENDPOINT", e.to_owned()));
    }
    envs.extend(extra_env.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let spawn = |name: &str, args: Vec<String>| {
        let mut c = Command::new(bin(name));
        c.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
        for (k, v) in &envs {
            c.env(k, v);
        }
        c.env_remove("OTEL_SERVICE_NAME");
        Proc(c.spawn().unwrap())
    };
    let procs = match how {
        How::Scimctl => {
            let mut args = vec![
                "up".into(),
                "--data-dir".into(),
                path(""),
                "--listen".into(),
                format!("127.0.0.1:{pg}"),
                "--identity-listen".into(),
                format!("127.0.0.1:{pi}"),
                "--auth-listen".into(),
                format!("127.0.0.1:{pa}"),
            ];
            if db.backend() == scim_storage::Backend::Postgres {
                args.extend(["--database-url".into(), db.url().to_owned()]);
            }
            vec![spawn("scimctl", args)]
        }
        How::Separate => separate(&spawn, &database, &path, &url, (pa, pi, pg)),
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(format!("{url}/readyz")).send().await
            && r.status() == 200
        {
            break;
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Some(Started {
        procs,
        url,
        auth_url: format!("http://127.0.0.1:{pa}"),
    })
}

/// A stack that became ready, before it is given its database.
struct Started {
    procs: Vec<Proc>,
    url: String,
    auth_url: String,
}

impl Stack {
    /// Kills every process and returns what each wrote to standard error.
    fn stop_and_read_logs(&mut self) -> Vec<String> {
        for p in &mut self.procs {
            let _ = p.0.kill();
        }
        self.procs
            .iter_mut()
            .map(|p| {
                let _ = p.0.wait();
                let mut err = String::new();
                if let Some(mut e) = p.0.stderr.take() {
                    use std::io::Read as _;
                    let _ = e.read_to_string(&mut err);
                }
                err
            })
            .collect()
    }
}

/// The three binaries, as docker-compose runs them.
fn separate(
    spawn: &dyn Fn(&str, Vec<String>) -> Proc,
    database: &dyn Fn(&str) -> String,
    path: &dyn Fn(&str) -> String,
    url: &str,
    (pa, pi, pg): (u16, u16, u16),
) -> Vec<Proc> {
    let url = url.to_owned();
    let auth = spawn(
        "auth-service",
        vec![
            "--listen".into(),
            format!("127.0.0.1:{pa}"),
            "--database-url".into(),
            database("auth.db"),
            "--issuer".into(),
            url.clone(),
            "--audience".into(),
            "scim-stack".into(),
            "--bootstrap-admin-file".into(),
            path("operator.json"),
        ],
    );
    let identity = spawn(
        "identity-service",
        vec![
            "--listen".into(),
            format!("127.0.0.1:{pi}"),
            "--database-url".into(),
            database("identity.db"),
            "--jwt-issuer".into(),
            url.clone(),
            "--jwt-audience".into(),
            "scim-stack".into(),
            "--auth-service-url".into(),
            format!("http://127.0.0.1:{pa}"),
        ],
    );
    let gateway = spawn(
        "scim-gateway",
        vec![
            "--listen".into(),
            format!("127.0.0.1:{pg}"),
            "--public-url".into(),
            url.clone(),
            "--identity-url".into(),
            format!("http://127.0.0.1:{pi}"),
            "--auth-url".into(),
            format!("http://127.0.0.1:{pa}"),
            "--jwt-issuer".into(),
            url.clone(),
            "--jwt-audience".into(),
            "scim-stack".into(),
        ],
    );
    vec![auth, identity, gateway]
}

/// An access token for the provider `client_id`, from the gateway's token endpoint.
async fn access_token(stack: &Stack, client_id: &str, client_secret: &str) -> String {
    let t: Value = reqwest::Client::new()
        .post(format!("{}/oauth2/token", stack.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", client_secret),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    t["access_token"].as_str().unwrap().to_owned()
}

/// Registers a provider with the operator credentials and returns (id, secret).
async fn provider(stack: &Stack) -> (String, String) {
    use scim_proto::auth::v1 as pb;
    let op: Value = serde_json::from_str(
        &std::fs::read_to_string(stack.db.dir().join("operator.json")).unwrap(),
    )
    .unwrap();
    let mut auth = pb::auth_service_client::AuthServiceClient::connect(stack.auth_url.clone())
        .await
        .unwrap();
    let admin = auth
        .issue_token(pb::IssueTokenRequest {
            client_id: op["client_id"].as_str().unwrap().into(),
            client_secret: op["client_secret"].as_str().unwrap().into(),
            scope: String::new(),
            ttl_seconds: 300,
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let mut req = tonic::Request::new(pb::CreateProviderRequest {
        name: "okta".into(),
        ..Default::default()
    });
    req.metadata_mut()
        .insert("authorization", format!("Bearer {admin}").parse().unwrap());
    let r = auth.create_provider(req).await.unwrap().into_inner();
    (r.provider.unwrap().client_id, r.client_secret)
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

/// An in-process OTLP receiver; returns what it receives and its endpoint.
async fn receiver() -> (Sink, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sink = Sink::default();
    let server = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(sink.clone()))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);
    (sink, format!("http://{addr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_scim_request_is_one_trace_across_every_hop_without_personal_data() {
    one_request_is_one_trace(How::Separate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_scimctl_up_each_span_is_exported_under_the_service_that_made_it() {
    one_request_is_one_trace(How::Scimctl).await;
}

/// The whole trace check, on the stack run `how`: the span tree, its attributes, each
/// span under its own service's name, and no personal data anywhere.
async fn one_request_is_one_trace(how: How) {
    let (sink, endpoint) = receiver().await;
    let stack = start(Some(&endpoint), how, &[]).await;
    let (client_id, client_secret) = provider(&stack).await;
    let http = reqwest::Client::new();
    let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");

    // A token request: gateway → auth-service in one trace.
    let token_trace = "0af7651916cd43dd8448eb211c80319c";
    let t: Value = http
        .post(format!("{}/oauth2/token", stack.url))
        .header(
            "traceparent",
            format!("00-{token_trace}-b7ad6b7169203331-01"),
        )
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &client_secret),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = t["access_token"].as_str().unwrap().to_owned();

    // Personal data that must never reach the receiver.
    let user_name = "ada.lovelace@analytical.example";
    let given = "Augusta";
    let family = "Byronesque";
    let phone = "+44 20 7946 0958";
    let body = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":user_name,
        "name":{"givenName":given,"familyName":family},"password":"Sup3r-Secret-Pw",
        "emails":[{"value":user_name,"type":"work","primary":true}],"phoneNumbers":[{"value":phone}]});
    let created: Value = http
        .post(format!("{}/scim/v2/Users", stack.url))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();

    // The traced request.
    let r = http
        .get(format!("{}/scim/v2/Users/{id}", stack.url))
        .bearer_auth(&token)
        .header("traceparent", &traceparent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A filter whose value must not leak.
    let r = http
        .get(
            reqwest::Url::parse_with_params(
                &format!("{}/scim/v2/Users", stack.url),
                &[("filter", format!("userName eq \"{user_name}\""))],
            )
            .unwrap(),
        )
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Requests in a trace of the test's choosing.
    let traced_get = async |path: &str, trace: &str, token: Option<&str>| {
        let mut req = http
            .get(format!("{}{path}", stack.url))
            .header("traceparent", format!("00-{trace}-{PARENT_ID}-01"));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.unwrap()
    };
    let not_found_naming = async |r: reqwest::Response, trace: &str| {
        assert_eq!(r.status(), 404);
        let err: Value = r.json().await.unwrap();
        assert!(err["detail"].as_str().unwrap().contains(trace), "{err}");
    };
    // A failing request: the error detail carries its trace id.
    let missing_trace = "5bf92f3577b34da6a3ce929d0e0e4737";
    let r = traced_get("/scim/v2/Users/does-not-exist", missing_trace, Some(&token)).await;
    not_found_naming(r, missing_trace).await;
    // A path no route matches, and a SCIM route without a token: each still gets its
    // request span, continuing the caller's trace.
    let unmatched_trace = "6bf92f3577b34da6a3ce929d0e0e4738";
    let r = traced_get("/scim/v2/Nope", unmatched_trace, Some(&token)).await;
    not_found_naming(r, unmatched_trace).await;
    let anonymous_trace = "7bf92f3577b34da6a3ce929d0e0e4739";
    let r = traced_get("/scim/v2/Users", anonymous_trace, None).await;
    assert_eq!(r.status(), 401);

    // Wait for the batches.
    let deadline = Instant::now() + Duration::from_secs(20);
    let by_trace = |trace: &str| -> Vec<Got> {
        sink.spans()
            .into_iter()
            .filter(|g| hex(&g.span.trace_id) == trace)
            .collect()
    };
    // Each service exports a batch every 100 ms, so the spans of one trace arrive in any
    // order and across batches: wait for every span the assertions below look at.
    let awaited = [
        (TRACE_ID, "scim-gateway", "GET /scim/v2/Users/{id}"),
        (
            TRACE_ID,
            "scim-gateway",
            "identity.v1.IdentityService/GetUser",
        ),
        (
            TRACE_ID,
            "identity-service",
            "identity.v1.IdentityService/GetUser",
        ),
        (
            token_trace,
            "auth-service",
            "auth.v1.AuthService/IssueToken",
        ),
        (token_trace, "scim-gateway", "POST /oauth2/token"),
        (missing_trace, "scim-gateway", "GET /scim/v2/Users/{id}"),
        (
            missing_trace,
            "scim-gateway",
            "identity.v1.IdentityService/GetUser",
        ),
        (unmatched_trace, "scim-gateway", "GET"),
        (anonymous_trace, "scim-gateway", "GET /scim/v2/Users"),
    ];
    loop {
        let arrived = |(trace, service, name): &(&str, &str, &str)| {
            by_trace(trace)
                .iter()
                .any(|g| g.service == *service && g.span.name == *name)
        };
        if awaited.iter().all(arrived)
            && by_trace(TRACE_ID)
                .iter()
                .any(|g| g.attr("db.system.name").is_some())
            && sink
                .spans()
                .iter()
                .any(|g| g.span.name == "GET /scim/v2/Users")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "spans never arrived: {:?}",
            sink.spans()
                .iter()
                .map(|g| (g.service.clone(), g.span.name.clone()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Every span under the name of a service, whichever way the stack runs.
    let services: std::collections::BTreeSet<String> =
        sink.spans().into_iter().map(|g| g.service).collect();
    assert!(
        services
            .iter()
            .all(|s| ["scim-gateway", "identity-service", "auth-service"].contains(&s.as_str())),
        "{services:?}"
    );

    let spans = by_trace(TRACE_ID);
    let by_id: HashMap<String, &Got> = spans.iter().map(|g| (hex(&g.span.span_id), g)).collect();
    let http_span = spans
        .iter()
        .find(|g| g.service == "scim-gateway" && g.span.name == "GET /scim/v2/Users/{id}")
        .unwrap_or_else(|| {
            panic!(
                "gateway server span named {{method}} {{route}}; got {:?}",
                spans
                    .iter()
                    .map(|g| (
                        g.service.clone(),
                        g.span.name.clone(),
                        g.span
                            .attributes
                            .iter()
                            .map(|a| a.key.clone())
                            .collect::<Vec<_>>()
                    ))
                    .collect::<Vec<_>>()
            )
        });
    assert_eq!(
        hex(&http_span.span.parent_span_id),
        PARENT_ID,
        "continues the incoming traceparent"
    );
    assert_eq!(
        http_span.attr("http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        http_span.attr("http.route").as_deref(),
        Some("/scim/v2/Users/{id}")
    );
    assert_eq!(
        http_span.attr("http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        http_span.attr("scim.resource_type").as_deref(),
        Some("User")
    );
    assert_eq!(http_span.attr("scim.operation").as_deref(), Some("get"));
    assert_eq!(http_span.attr("tenant").as_deref(), Some("default"));
    assert_eq!(
        http_span.attr("client_id").as_deref(),
        Some(client_id.as_str())
    );

    let client_span = spans
        .iter()
        .find(|g| {
            g.service == "scim-gateway" && g.span.name == "identity.v1.IdentityService/GetUser"
        })
        .expect("gRPC client span");
    assert_eq!(
        hex(&client_span.span.parent_span_id),
        hex(&http_span.span.span_id)
    );
    assert_eq!(client_span.attr("rpc.system").as_deref(), Some("grpc"));
    assert_eq!(
        client_span.attr("rpc.service").as_deref(),
        Some("identity.v1.IdentityService")
    );
    assert_eq!(client_span.attr("rpc.method").as_deref(), Some("GetUser"));
    assert_eq!(
        client_span.attr("rpc.grpc.status_code").as_deref(),
        Some("0")
    );

    let server_span = spans
        .iter()
        .find(|g| {
            g.service == "identity-service" && g.span.name == "identity.v1.IdentityService/GetUser"
        })
        .expect("identity-service server span");
    assert_eq!(
        hex(&server_span.span.parent_span_id),
        hex(&client_span.span.span_id),
        "parent across the gRPC hop"
    );
    assert_eq!(
        server_span.attr("rpc.grpc.status_code").as_deref(),
        Some("0")
    );
    assert_eq!(server_span.attr("tenant").as_deref(), Some("default"));
    assert_eq!(
        server_span.attr("scim.resource_type").as_deref(),
        Some("User")
    );
    assert_eq!(server_span.attr("scim.operation").as_deref(), Some("get"));

    let db_span = spans
        .iter()
        .find(|g| g.service == "identity-service" && g.attr("db.system.name").is_some())
        .expect("database span");
    let system = match stack.db.backend() {
        scim_storage::Backend::Sqlite => "sqlite",
        scim_storage::Backend::Postgres => "postgresql",
    };
    assert_eq!(db_span.attr("db.system.name").as_deref(), Some(system));
    assert!(db_span.attr("db.operation.name").is_some());
    assert!(db_span.attr("db.collection.name").is_some());
    // The database span hangs below the identity-service server span.
    let mut cursor = hex(&db_span.span.parent_span_id);
    let mut reached = false;
    while let Some(p) = by_id.get(&cursor) {
        if hex(&p.span.span_id) == hex(&server_span.span.span_id) {
            reached = true;
            break;
        }
        cursor = hex(&p.span.parent_span_id);
    }
    assert!(
        reached,
        "database span is a descendant of the RPC server span"
    );

    // The token request reached the auth-service in the same trace.
    let token_spans = by_trace(token_trace);
    assert!(token_spans.iter().any(|g| g.service == "auth-service" && g.span.name == "auth.v1.AuthService/IssueToken"));
    assert!(
        token_spans
            .iter()
            .any(|g| g.service == "scim-gateway" && g.span.name == "POST /oauth2/token")
    );

    // The failing request: the gRPC client span is an error with its code.
    let failed = by_trace(missing_trace);
    let failed_client = failed
        .iter()
        .find(|g| {
            g.span.name == "identity.v1.IdentityService/GetUser" && g.service == "scim-gateway"
        })
        .expect("client span of the failing call");
    assert_eq!(
        failed_client.attr("rpc.grpc.status_code").as_deref(),
        Some("5")
    );
    assert_eq!(
        failed_client.span.status.as_ref().map(|s| s.code),
        Some(2),
        "span status ERROR"
    );
    let failed_http = failed
        .iter()
        .find(|g| g.span.name == "GET /scim/v2/Users/{id}")
        .expect("http span");
    assert_eq!(
        failed_http.attr("http.response.status_code").as_deref(),
        Some("404")
    );
    assert_eq!(failed_http.attr("error.type").as_deref(), Some("notFound"));

    // No route matched: a span named after the method alone, with no route.
    let unmatched = by_trace(unmatched_trace);
    let [unmatched_http] = unmatched.as_slice() else {
        panic!("one span for the unmatched request: {unmatched:?}");
    };
    assert_eq!(unmatched_http.span.name, "GET");
    assert_eq!(hex(&unmatched_http.span.parent_span_id), PARENT_ID);
    assert_eq!(unmatched_http.attr("http.route"), None);
    assert_eq!(
        unmatched_http.attr("http.response.status_code").as_deref(),
        Some("404")
    );
    assert_eq!(
        unmatched_http.attr("error.type").as_deref(),
        Some("notFound")
    );
    // Rejected for want of a token, inside the route's span.
    let anonymous = by_trace(anonymous_trace);
    let [anonymous_http] = anonymous.as_slice() else {
        panic!("one span for the unauthenticated request: {anonymous:?}");
    };
    assert_eq!(
        anonymous_http.attr("http.response.status_code").as_deref(),
        Some("401")
    );
    assert_eq!(
        anonymous_http.attr("error.type").as_deref(),
        Some("unauthorized")
    );
    assert_eq!(anonymous_http.attr("tenant"), None);

    // The filter's shape, never its value.
    let list = sink
        .spans()
        .into_iter()
        .find(|g| g.span.name == "GET /scim/v2/Users")
        .expect("list span");
    assert_eq!(
        list.attr("scim.filter_shape").as_deref(),
        Some("userName eq ?")
    );

    // No personal data or secret anywhere.
    let dump = sink.dump();
    for secret in [
        user_name,
        given,
        family,
        phone,
        "Sup3r-Secret-Pw",
        token.as_str(),
        client_secret.as_str(),
        "analytical.example",
    ] {
        assert!(
            !dump.contains(secret),
            "the receiver got a value it must never see"
        );
    }
    drop(stack.procs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_otlp_endpoint_the_services_start_and_serve_quietly() {
    let mut stack = start(None, How::Separate, &[]).await;
    let (client_id, client_secret) = provider(&stack).await;
    let http = reqwest::Client::new();
    let token = access_token(&stack, &client_id, &client_secret).await;
    let r = http
        .get(format!("{}/scim/v2/Users", stack.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Stop them and read everything they logged: no error and no warning.
    for err in stack.stop_and_read_logs() {
        let lower = err.to_lowercase();
        assert!(
            !lower.contains("error") && !lower.contains("warn"),
            "unexpected log output: {err}"
        );
    }
}

/// Root traces among `n` untraced lookups that reached the receiver, and whether the
/// caller's decision was followed for `n` sampled and `n` unsampled callers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_based_ratio_sampling_follows_the_caller_and_samples_that_share_of_roots() {
    let (sink, endpoint) = receiver().await;
    let stack = start(
        Some(&endpoint),
        How::Separate,
        &[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            // Six hundred requests must not fill the unread stderr pipes.
            ("RUST_LOG", "warn"),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let n = 200;
    let get = async |traceparent: Option<String>| {
        let mut req = http.get(format!("{}/healthz", stack.url));
        if let Some(tp) = traceparent {
            req = req.header("traceparent", tp);
        }
        assert!(req.send().await.unwrap().status().is_success());
    };
    let sampled: Vec<String> = (0..n)
        .map(|i| format!("{:032x}", 0xa000_0000u128 + i))
        .collect();
    let unsampled: Vec<String> = (0..n)
        .map(|i| format!("{:032x}", 0xb000_0000u128 + i))
        .collect();
    for i in 0..n {
        get(None).await;
        get(Some(format!("00-{}-{PARENT_ID}-01", sampled[i as usize]))).await;
        get(Some(format!("00-{}-{PARENT_ID}-00", unsampled[i as usize]))).await;
    }
    let roots = || {
        sink.spans()
            .into_iter()
            .filter(|g| g.service == "scim-gateway" && hex(&g.span.parent_span_id).is_empty())
            .count()
    };
    let traced = |ids: &[String]| {
        let got: std::collections::HashSet<String> =
            sink.spans().iter().map(|g| hex(&g.span.trace_id)).collect();
        ids.iter().filter(|id| got.contains(*id)).count()
    };
    // Wait until every sampled caller's span is in: by then the batches hold the rest.
    let deadline = Instant::now() + Duration::from_secs(20);
    while traced(&sampled) < n as usize {
        assert!(
            Instant::now() < deadline,
            "sampled callers' spans: {} of {n}",
            traced(&sampled)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        traced(&unsampled),
        0,
        "an unsampled caller's trace was exported"
    );
    // 25% of 200: the binomial's 99.99% range is about 24 to 78.
    let roots = roots();
    assert!(
        (20..=80).contains(&roots),
        "{roots} of {n} root traces sampled"
    );
    drop(stack.procs);
}

/// `OTEL_TRACES_EXPORTER=none` with an endpoint set: metrics may still go out, spans
/// do not, and the services serve as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_exporter_none_exports_no_span() {
    let (sink, endpoint) = receiver().await;
    let stack = start(
        Some(&endpoint),
        How::Separate,
        &[("OTEL_TRACES_EXPORTER", "none")],
    )
    .await;
    let http = reqwest::Client::new();
    for _ in 0..5 {
        let r = http
            .get(format!("{}/healthz", stack.url))
            .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let (client_id, _) = provider(&stack).await;
    assert!(!client_id.is_empty());
    // Ten times the batch delay the stack runs with.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        sink.spans().is_empty(),
        "{} spans exported",
        sink.spans().len()
    );
    drop(stack.procs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_sampler_is_reported_at_start_up() {
    let (_sink, endpoint) = receiver().await;
    let mut stack = start(
        Some(&endpoint),
        How::Separate,
        &[("OTEL_TRACES_SAMPLER", "sometimes")],
    )
    .await;
    for err in stack.stop_and_read_logs() {
        assert!(
            err.contains("unknown OTEL_TRACES_SAMPLER \"sometimes\""),
            "not reported: {err}"
        );
    }
}

/// Every JSON log line written inside a request names the request's trace and span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_inside_a_request_carry_its_trace_and_span_ids() {
    let (_sink, endpoint) = receiver().await;
    let mut stack = start(Some(&endpoint), How::Separate, &[("LOG_FORMAT", "json")]).await;
    let (client_id, client_secret) = provider(&stack).await;
    let http = reqwest::Client::new();
    // Logged by the gateway ("rejected access token") and by auth-service (the token
    // issued), each inside its request's span; from callers whose traces are sampled
    // (flag 01) and from callers whose traces are not (00: nothing is exported, and the
    // log lines still name the trace).
    let traces = [
        (
            "8bf92f3577b34da6a3ce929d0e0e4730",
            "9bf92f3577b34da6a3ce929d0e0e4731",
            "01",
        ),
        (
            "8bf92f3577b34da6a3ce929d0e0e4732",
            "9bf92f3577b34da6a3ce929d0e0e4733",
            "00",
        ),
    ];
    for (rejected_trace, token_trace, flags) in traces {
        let r = http
            .get(format!("{}/scim/v2/Users", stack.url))
            .bearer_auth("not-a-token")
            .header(
                "traceparent",
                format!("00-{rejected_trace}-{PARENT_ID}-{flags}"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let r = http
            .post(format!("{}/oauth2/token", stack.url))
            .header(
                "traceparent",
                format!("00-{token_trace}-{PARENT_ID}-{flags}"),
            )
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &client_id),
                ("client_secret", &client_secret),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let mut seen = std::collections::HashSet::new();
    for err in stack.stop_and_read_logs() {
        for line in err.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                panic!("not a JSON log line: {line}");
            };
            let Some(span) = v.get("span") else { continue };
            let trace = span["trace_id"].as_str().unwrap_or_default();
            let span_id = span["span_id"].as_str().unwrap_or_default();
            assert!(
                trace.len() == 32 && span_id.len() == 16,
                "a line inside a request without its ids: {line}"
            );
            seen.insert(trace.to_owned());
        }
    }
    for trace in traces
        .iter()
        .flat_map(|(rejected, token, _)| [rejected, token])
    {
        assert!(seen.contains(*trace), "{trace} not in {seen:?}");
    }
}

/// A `/Bulk` request is one trace: its server span, one internal child span per
/// operation, and under each the identity-service call that did its work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bulk_operation_is_a_child_span_of_the_bulk_request() {
    let (sink, endpoint) = receiver().await;
    let stack = start(Some(&endpoint), How::Separate, &[]).await;
    let (client_id, client_secret) = provider(&stack).await;
    let http = reqwest::Client::new();
    let token = access_token(&stack, &client_id, &client_secret).await;
    let bulk_trace = "8bf92f3577b34da6a3ce929d0e0e4730";
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "bulk.a@example.com"}},
            {"method": "POST", "path": "/Groups", "bulkId": "g",
             "data": {"displayName": "Bulk group", "members": [{"value": "bulkId:a"}]}},
        ]
    });
    let r = http
        .post(format!("{}/scim/v2/Bulk", stack.url))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{bulk_trace}-{PARENT_ID}-01"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    let spans = loop {
        let spans: Vec<Got> = sink
            .spans()
            .into_iter()
            .filter(|g| hex(&g.span.trace_id) == bulk_trace)
            .collect();
        let has = |service: &str, name: &str| {
            spans
                .iter()
                .any(|g| g.service == service && g.span.name == name)
        };
        if has("scim-gateway", "POST /scim/v2/Bulk")
            && has("scim-gateway", "bulk POST /scim/v2/Users")
            && has("scim-gateway", "bulk POST /scim/v2/Groups")
            && has("identity-service", "identity.v1.IdentityService/CreateUser")
            && has(
                "identity-service",
                "identity.v1.IdentityService/CreateGroup",
            )
        {
            break spans;
        }
        assert!(Instant::now() < deadline, "spans never arrived: {spans:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let find = |service: &str, name: &str| {
        spans
            .iter()
            .find(|g| g.service == service && g.span.name == name)
            .unwrap()
    };
    let bulk = find("scim-gateway", "POST /scim/v2/Bulk");
    assert_eq!(hex(&bulk.span.parent_span_id), PARENT_ID);
    for (name, rpc) in [
        ("bulk POST /scim/v2/Users", "CreateUser"),
        ("bulk POST /scim/v2/Groups", "CreateGroup"),
    ] {
        let op = find("scim-gateway", name);
        assert_eq!(
            hex(&op.span.parent_span_id),
            hex(&bulk.span.span_id),
            "{name}"
        );
        assert_eq!(op.attr("http.response.status_code").as_deref(), Some("201"));
        assert_eq!(op.attr("tenant").as_deref(), Some("default"));
        assert_eq!(
            op.span.kind,
            opentelemetry_proto::tonic::trace::v1::span::SpanKind::Internal as i32
        );
        let client = find(
            "scim-gateway",
            &format!("identity.v1.IdentityService/{rpc}"),
        );
        assert_eq!(
            hex(&client.span.parent_span_id),
            hex(&op.span.span_id),
            "{rpc}"
        );
    }
    drop(stack.procs);
}
