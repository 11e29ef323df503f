//! Starts the real server in-process on 127.0.0.1:0 with a database of its own (a
//! temporary SQLite file, or a fresh PostgreSQL database when the run asks for it:
//! `scim_storage::testing`), and builds clients that carry tokens of a test issuer.

use std::sync::{Arc, Mutex};

use clap::Parser as _;
use identity_service::db::{Database, PG_SCHEMA};
use identity_service::{Config, Server};
use scim_authn::test_support::{TEST_ISSUER, TestIssuer};
use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::identity_service_client::IdentityServiceClient;
use scim_storage::testing::{Direct, TestDatabase};
use tokio::sync::oneshot;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

/// Both directory scopes.
pub const RW: &str = "scim:read scim:write";
/// Read only.
pub const RO: &str = "scim:read";

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(pub Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// A client acting with one token.
pub type Client = IdentityServiceClient<InterceptedService<Channel, Bearer>>;

/// A running server with its own database file.
pub struct TestServer {
    /// Mints tokens the server accepts.
    pub issuer: TestIssuer,
    /// The server's database handle.
    pub database: Database,
    channel: Channel,
    shutdown: Option<oneshot::Sender<()>>,
    /// The test's database (dropped after the server's handle above).
    pub db: TestDatabase,
}

impl TestServer {
    /// Starts a server with default settings.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts a server with extra command-line flags.
    pub async fn start_with(extra: &[&str]) -> Self {
        scim_telemetry::init_for_tests();
        let db = TestDatabase::new("identity.db");
        let url = db.url().to_owned();
        let mut args = vec![
            "identity-service",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &url,
            "--jwt-issuer",
            TEST_ISSUER,
        ];
        args.extend_from_slice(extra);
        let config = Config::try_parse_from(args).expect("config");
        let issuer = TestIssuer::new();
        let server = Server::build(config, issuer.verifier())
            .await
            .expect("server builds");
        let addr = server.local_addr();
        let database = server.database().clone();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(server.run_until(async {
            let _ = rx.await;
        }));
        // The listener is bound already, so connecting cannot race the spawn.
        let channel = Channel::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        TestServer {
            issuer,
            database,
            channel,
            shutdown: Some(tx),
            db,
        }
    }

    /// A connection of the test's own to the server's database.
    pub fn direct(&self) -> Direct {
        self.db.direct(PG_SCHEMA)
    }

    /// Whether the server runs on PostgreSQL.
    pub fn on_postgres(&self) -> bool {
        self.db.backend() == scim_storage::Backend::Postgres
    }

    /// The shared channel.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// A client with a token for `tenant` granting `scope`.
    pub fn client(&self, tenant: &str, scope: &str) -> Client {
        self.client_with_token(Some(&self.issuer.mint(tenant, scope)))
    }

    /// A client sending `token` (or no token at all).
    pub fn client_with_token(&self, token: Option<&str>) -> Client {
        let value = token.map(|t| format!("Bearer {t}").parse().expect("ascii token"));
        IdentityServiceClient::with_interceptor(self.channel(), Bearer(value))
    }

    /// Records the SQL of every statement until the returned log is dropped... or
    /// [`TestServer::stop_recording`] is called.
    pub fn record_queries(&self) -> Arc<Mutex<Vec<String>>> {
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = log.clone();
        self.database
            .set_query_observer(Some(Arc::new(move |sql: &str| {
                // Identifiers as SQLite's diesel quotes them (`name`), whichever the
                // backend, so that tests match statements one way.
                let (text, binds) = sql.split_once(" -- binds: ").unwrap_or((sql, ""));
                let text = text.replace('"', "`");
                sink.lock()
                    .unwrap()
                    .push(format!("{text} -- binds: {binds}"));
            })));
        log
    }

    /// Stops recording statements.
    pub fn stop_recording(&self) {
        self.database.set_query_observer(None);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The status code of a result.
pub fn code<T: std::fmt::Debug>(r: Result<T, Status>) -> Code {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(s) => s.code(),
    }
}

/// A user with just a user name.
pub fn user(name: &str) -> pb::User {
    pb::User {
        user_name: name.into(),
        ..Default::default()
    }
}

/// Creates a user and returns it.
pub async fn create_user(c: &mut Client, u: pb::User) -> pb::User {
    c.create_user(pb::CreateUserRequest { user: Some(u) })
        .await
        .expect("create user")
        .into_inner()
}

/// Creates a group and returns it (without members).
pub async fn create_group(c: &mut Client, name: &str, members: Vec<pb::Member>) -> pb::Group {
    c.create_group(pb::CreateGroupRequest {
        skip_unknown_members: false,
        group: Some(pb::Group {
            display_name: name.into(),
            members,
            ..Default::default()
        }),
        include_members: false,
    })
    .await
    .expect("create group")
    .into_inner()
}

/// A user member.
pub fn member(id: &str) -> pb::Member {
    pb::Member {
        value: id.into(),
        ..Default::default()
    }
}

/// `add` change.
pub fn add(members: Vec<pb::Member>) -> pb::MemberChange {
    pb::MemberChange {
        kind: Some(pb::member_change::Kind::Add(pb::MemberList { members })),
    }
}

/// `remove` change.
pub fn remove(values: &[&str]) -> pb::MemberChange {
    pb::MemberChange {
        kind: Some(pb::member_change::Kind::Remove(pb::MemberValues {
            values: values.iter().map(|v| v.to_string()).collect(),
        })),
    }
}

/// `replace` change.
pub fn replace(members: Vec<pb::Member>) -> pb::MemberChange {
    pb::MemberChange {
        kind: Some(pb::member_change::Kind::Replace(pb::MemberList { members })),
    }
}

/// ModifyMembers without a version check.
pub async fn modify(
    c: &mut Client,
    group_id: &str,
    changes: Vec<pb::MemberChange>,
) -> Result<pb::ModifyMembersResponse, Status> {
    c.modify_members(pb::ModifyMembersRequest {
        skip_unknown_members: false,
        group_id: group_id.into(),
        expected_version: 0,
        changes,
    })
    .await
    .map(|r| r.into_inner())
}

/// The group with members.
pub async fn get_group(c: &mut Client, id: &str) -> pb::Group {
    c.get_group(pb::GetGroupRequest {
        id: id.into(),
        include_members: true,
    })
    .await
    .expect("get group")
    .into_inner()
}

/// Sorted member values of a group.
pub fn member_values(g: &pb::Group) -> Vec<String> {
    let mut v: Vec<String> = g.members.iter().map(|m| m.value.clone()).collect();
    v.sort();
    v
}

/// The database's plan for a recorded statement: SQLite's `EXPLAIN QUERY PLAN` with the
/// binds left unset; on PostgreSQL, `EXPLAIN` of the statement with its recorded binds
/// written in, after `ANALYZE`, with sequential and bitmap scans turned off: a test
/// table of a few rows would be read whole whatever its indexes, so the plan is made to
/// show what an index can serve, which is what a table of production size gets.
pub fn query_plan(db: &mut Direct, recorded: &str) -> Vec<String> {
    use diesel::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct Step {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    #[derive(diesel::QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[diesel(column_name = "QUERY PLAN")]
        line: String,
    }
    let (text, binds) = recorded.split_once(" -- binds: ").unwrap_or((recorded, ""));
    match db {
        Direct::Sqlite(c) => diesel::sql_query(format!("EXPLAIN QUERY PLAN {text}"))
            .load::<Step>(c)
            .expect("plan")
            .into_iter()
            .map(|s| s.detail)
            .collect(),
        Direct::Pg(c) => {
            for setting in [
                "ANALYZE",
                "SET enable_seqscan = off",
                "SET enable_bitmapscan = off",
            ] {
                diesel::sql_query(setting).execute(c).expect("planner");
            }
            let text = text.replace('`', "\"");
            diesel::sql_query(format!("EXPLAIN {}", with_binds(&text, binds)))
                .load::<Line>(c)
                .expect("plan")
                .into_iter()
                .map(|l| l.line)
                .collect()
        }
    }
}

/// Whether a plan from [`query_plan`] reads `index` without the table's rows: SQLite's
/// `USING COVERING INDEX`, PostgreSQL's `Index Only Scan`.
pub fn reads_index_alone(plan: &[String], index: &str) -> bool {
    plan.iter().any(|step| {
        step.contains(&format!("COVERING INDEX {index}"))
            || step.contains(&format!("Index Only Scan using {index}"))
    })
}

/// Whether a plan sorts rows itself (SQLite's temporary B-tree, a PostgreSQL `Sort`).
pub fn sorts(plan: &[String]) -> bool {
    plan.iter().any(|step| {
        step.contains("TEMP B-TREE") || step.trim_start_matches([' ', '-', '>']).starts_with("Sort")
    })
}

/// `text` with `$1`, `$2`, … replaced by the values diesel recorded (`["a", 2]`).
fn with_binds(text: &str, binds: &str) -> String {
    let values: Vec<String> =
        serde_json::from_str::<Vec<serde_json::Value>>(&binds.replace('(', "[").replace(')', "]"))
            .unwrap_or_default()
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => format!("'{}'", s.replace('\'', "''")),
                serde_json::Value::Array(items) => format!(
                    "ARRAY[{}]::text[]",
                    items
                        .iter()
                        .map(|i| format!(
                            "'{}'",
                            i.as_str().unwrap_or_default().replace('\'', "''")
                        ))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                other => other.to_string(),
            })
            .collect();
    let mut out = text.to_owned();
    for (i, v) in values.iter().enumerate().rev() {
        out = out.replace(&format!("${}", i + 1), v);
    }
    out
}
