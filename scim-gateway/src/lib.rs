//! The public HTTP surface of the stack: SCIM 2.0 (RFC 7643/7644) and the OAuth token
//! endpoints, translated into identity.v1 and auth.v1 gRPC calls.

pub mod error;
pub mod scim;
