//! Storage shared by identity-service and auth-service.
//!
//! Both services keep their data through diesel on one of two backends, chosen by the
//! database URL ([`DatabaseUrl`]): SQLite, the embedded default for one machine, or
//! PostgreSQL, shared by any number of replicas. The services' query code is written
//! once against [`Conn`], which holds the concrete connection of either backend; the
//! [`with_conn!`] macro compiles a diesel expression for each, so every query is a
//! static, backend-native statement (prepared-statement caching, `RETURNING`,
//! `ON CONFLICT`, native `BOOLEAN` and `BLOB`/`BYTEA`), and the few statements that must
//! differ are a `match` on [`Conn`] at the place they differ.
//!
//! * [`pool`]: r2d2 pools for either backend, with each backend's session settings.
//! * [`migrate`]: embedded migrations per backend, applied once however many replicas
//!   start together, and a refusal to run against a schema newer than the binary.
//! * [`time`]: timestamps stored as text on both backends, so a value survives a move
//!   between them to the nanosecond.
//! * [`errors`]: what a database error means for a caller (retry, or which unique rule).
//! * `testing` (feature `testing`): a fresh database per test on either backend.

pub mod conn;
pub mod errors;
pub mod migrate;
pub mod pool;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod url;

pub use conn::Conn;
pub use pool::{Pool, PoolOptions, Pooled};
pub use time::DbTime;
pub use url::{Backend, DatabaseUrl, UrlError};
