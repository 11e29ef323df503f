//! SCIM 2.0 wire logic, independent of HTTP: resource JSON, filters, PATCH, projection
//! and discovery documents.

pub mod bulk;
pub mod discovery;
pub mod filter;
pub mod group;
pub(crate) mod json;
pub mod list;
pub(crate) mod meta;
pub mod patch;
pub mod projection;
pub mod user;
pub(crate) mod write;
