//! Integration tests: the real server, in-process, over gRPC (and the real binary for
//! the durability test).

// A panic is how a test fails; helpers unwrap as tests do.
#![allow(clippy::unwrap_used)]

mod harness;

mod auth;
mod concurrency;
mod durability;
mod filters;
mod groups;
mod migrations;
mod paging;
mod patch;
mod scale;
mod sorting;
mod tenancy;
mod users;
