//! Directory operations: what one RPC does inside its transaction.
//!
//! Handlers check and convert requests, hash passwords, then run one of these inside
//! [`crate::db::Database::write`] or [`crate::db::Database::read`]; the rules of the
//! directory (tenancy, uniqueness, versions, member counts) live here and in [`crate::db`].

pub mod groups;
pub mod users;
