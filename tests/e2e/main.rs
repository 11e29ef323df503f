//! Whole-stack tests: the three services started for real and driven over HTTP and gRPC.

// A panic is how a test fails; helpers unwrap as tests do.
#![allow(clippy::unwrap_used)]

mod abuse;
mod bulk;
mod cursor;
mod db_copy;
mod disk;
mod entra;
mod failures;
mod faults;
mod oauth;
mod okta;
mod protocol;
mod replicas;
mod scimctl;
mod sorting;
mod tls;
mod tracing;
