//! Integration tests: the real auth-service in-process on 127.0.0.1:0 with a temporary
//! database, driven through the generated gRPC client.

// A panic is how a test fails; helpers unwrap as tests do.
#![allow(clippy::unwrap_used)]

mod bootstrap;
mod guessing;
mod health;
mod introspection;
mod keys;
mod providers;
mod revocation;
mod support;
mod tokens;
