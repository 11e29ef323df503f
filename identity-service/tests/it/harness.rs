//! Starts the real server in-process on 127.0.0.1:0 with a temporary SQLite file, and
//! builds clients that carry tokens of a test issuer.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::Parser as _;
use identity_service::db::Database;
use identity_service::{Config, Server};
use scim_authn::test_support::{TEST_ISSUER, TestIssuer};
use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::identity_service_client::IdentityServiceClient;
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
    /// The database file.
    pub db_path: PathBuf,
    /// The server's database handle.
    pub database: Database,
    channel: Channel,
    shutdown: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server with default settings.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts a server with extra command-line flags.
    pub async fn start_with(extra: &[&str]) -> Self {
        scim_telemetry::init_for_tests();
        let dir = tempfile::tempdir().expect("tempdir");
        let db_path = dir.path().join("identity.db");
        let url = format!("sqlite://{}", db_path.display());
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
            db_path,
            database,
            channel,
            shutdown: Some(tx),
            _dir: dir,
        }
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
                sink.lock().unwrap().push(sql.to_owned());
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

/// Opens the server's database file directly (to check what is stored).
pub fn open_db(path: &std::path::Path) -> diesel::SqliteConnection {
    use diesel::Connection as _;
    let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy()).expect("open db");
    diesel::connection::SimpleConnection::batch_execute(&mut conn, "PRAGMA busy_timeout = 5000;")
        .expect("pragma");
    conn
}

/// SQLite's plan for a recorded statement (its binds left unset).
pub fn query_plan(db: &mut diesel::SqliteConnection, recorded: &str) -> Vec<String> {
    use diesel::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct Step {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    let text = recorded.split(" -- binds:").next().unwrap_or(recorded);
    diesel::sql_query(format!("EXPLAIN QUERY PLAN {text}"))
        .load::<Step>(db)
        .expect("plan")
        .into_iter()
        .map(|s| s.detail)
        .collect()
}
