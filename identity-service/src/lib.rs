//! identity-service: the directory of the SCIM stack.
//!
//! A multi-tenant store of users, groups and memberships served over gRPC as
//! `identity.v1.IdentityService` (see `proto/identity/v1/identity.proto`, whose comments
//! are the contract). Storage is diesel through an r2d2 pool, on SQLite or PostgreSQL
//! (`scim-storage`); any number of replicas may share one PostgreSQL database.
//!
//! Map of the crate:
//! * [`server`]: wiring (listener, health, reflection, authentication) and lifecycle;
//!   [`config`] and [`verifier`] configure it.
//! * [`grpc`]: the RPC handlers; [`ops`]: what each does inside its transaction.
//! * [`db`]: pool, migrations, tables; [`model`]: stored form and conversions.
//! * [`filter`], [`listing`], [`paging`]: filtered, paged lists.
//! * [`patch`]: user PATCH applied to the stored user; [`mask`]: `UpdateUser`'s field
//!   masks; [`members`]: member changes; [`password`]: Argon2id hashing.
//! * SCIM's attribute knowledge (names, caseExact, where each attribute is stored,
//!   limits) is `scim-model`'s, shared with the gateway.

pub mod config;
pub mod db;
pub mod error;
pub mod filter;
pub mod grpc;
pub mod listing;
pub mod mask;
pub mod members;
pub mod model;
pub mod ops;
pub mod paging;
pub mod password;
pub mod patch;
pub mod server;
pub mod verifier;

pub use config::Config;
pub use error::IdentityError;
pub use server::{ServeError, Server, StartError};
