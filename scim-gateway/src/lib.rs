//! The public HTTP surface of the stack: SCIM 2.0 (RFC 7643/7644) and the OAuth token
//! endpoints, translated into identity.v1 and auth.v1 gRPC calls.
//!
//! * [`routes`]: the axum router, one module per resource.
//! * [`scim`]: SCIM wire logic independent of HTTP (resources, filters, PATCH, lists,
//!   discovery).
//! * [`request_layer`]: the route layers: each request's server span and, on SCIM routes,
//!   [`auth`], the bearer-token check.
//! * [`error`]: the SCIM error body every failure becomes.

pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
pub mod rate_limit;
pub mod request_layer;
pub mod routes;
pub mod scim;
pub mod server;
pub mod state;
pub mod tls;
pub mod upstream;

pub use config::Config;
pub use server::Server;
