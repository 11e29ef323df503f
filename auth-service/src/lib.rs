//! The auth-service: OAuth clients ("providers"), client_credentials access tokens,
//! signing keys, introspection and revocation, served as gRPC `auth.v1.AuthService`.
//!
//! * [`authority`] holds the logic and the in-memory caches that keep token issuance off
//!   the database; [`db`] the persistence, on SQLite or PostgreSQL.
//! * [`secrets`] generates client ids and secrets and hashes secrets; [`guard`]
//!   throttles secret guessing; [`keyring`] holds the signing keys.
//! * [`grpc`] is the tonic service; [`server`] binds, starts and stops it;
//!   [`bootstrap`] writes the first operator credentials.
//!
//! ```no_run
//! # async fn run() -> Result<(), auth_service::AuthError> {
//! let config = auth_service::Config::with_database("data/auth.db");
//! let server = auth_service::Server::build(config).await?;
//! println!("listening on {}", server.local_addr());
//! server.run_until(std::future::pending()).await
//! # }
//! ```

pub mod authority;
pub mod bootstrap;
pub mod config;
pub mod db;
pub mod error;
pub mod grpc;
pub mod guard;
pub mod keyring;
pub mod secrets;
pub mod server;

pub use config::Config;
pub use error::AuthError;
pub use server::Server;
