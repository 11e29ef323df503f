//! Integration tests: the real server, in-process, over gRPC (and the real binary for
//! the durability test).

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
mod tenancy;
mod users;
