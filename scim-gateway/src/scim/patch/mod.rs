//! SCIM PATCH (RFC 7644 §3.5.2) with the IdP variants seen in the wild.
//!
//! [`parse_patch_request`] reads the PatchOp message; [`user_operations`] and
//! [`group_patch`] turn its operations into the typed `identity.v1` request that
//! identity-service applies where the data lives (`PatchUser`, `UpdateGroup`): one call,
//! no read first, so a PATCH is all or nothing and costs O(what it changes).

mod group;
mod path;
#[cfg(test)]
mod tests_group;
#[cfg(test)]
mod tests_user;
mod user;
mod values;

use serde_json::Value;

pub use group::{GroupPatch, group_patch};
pub use user::user_operations;

use crate::error::ScimError;
use crate::scim::json::get_ci;
use scim_model::PATCH_OP_SCHEMA;

pub use scim_model::limits::MAX_PATCH_OPERATIONS;

/// The three PATCH operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `add`.
    Add,
    /// `remove`.
    Remove,
    /// `replace`.
    Replace,
}

/// One operation of a PatchOp message.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    /// What to do.
    pub op: PatchKind,
    /// The target, unparsed; `None` when absent, `null` or empty.
    pub path: Option<String>,
    /// The value as sent; `Some(Value::Null)` when explicitly `null`.
    pub value: Option<Value>,
}

/// Reads a PatchOp message. The `schemas` URN, the `Operations` key and `op` values
/// compare case-insensitively (Entra sends `"op":"Replace"`).
pub fn parse_patch_request(body: &Value) -> Result<Vec<PatchOp>, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the PATCH body must be a PatchOp object"))?;
    let schema_ok = match get_ci(obj, "schemas").map(|(_, v)| v) {
        Some(Value::Array(items)) => items.iter().any(|s| {
            s.as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
        }),
        Some(Value::String(s)) => s.eq_ignore_ascii_case(PATCH_OP_SCHEMA),
        _ => false,
    };
    if !schema_ok {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must contain {PATCH_OP_SCHEMA}"
        )));
    }
    let ops = match get_ci(obj, "Operations").map(|(_, v)| v) {
        Some(Value::Array(ops)) => ops,
        _ => {
            return Err(ScimError::invalid_syntax(
                "\"Operations\" must be an array of operations",
            ));
        }
    };
    if ops.is_empty() {
        return Err(ScimError::invalid_value("\"Operations\" is empty"));
    }
    if ops.len() > MAX_PATCH_OPERATIONS {
        return Err(ScimError::invalid_value(format!(
            "a PATCH request may carry at most {MAX_PATCH_OPERATIONS} operations"
        )));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_op(i, op))
        .collect()
}

fn parse_op(i: usize, v: &Value) -> Result<PatchOp, ScimError> {
    let obj = v
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax(format!("operation {i} is not an object")))?;
    let op = match get_ci(obj, "op").and_then(|(_, v)| v.as_str()) {
        Some(s) if s.eq_ignore_ascii_case("add") => PatchKind::Add,
        Some(s) if s.eq_ignore_ascii_case("remove") => PatchKind::Remove,
        Some(s) if s.eq_ignore_ascii_case("replace") => PatchKind::Replace,
        _ => {
            return Err(ScimError::invalid_value(format!(
                "operation {i}: \"op\" must be \"add\", \"remove\" or \"replace\""
            )));
        }
    };
    let path = match get_ci(obj, "path").map(|(_, v)| v) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_owned()),
        Some(_) => {
            return Err(ScimError::invalid_path(format!(
                "operation {i}: \"path\" must be a string"
            )));
        }
    };
    let value = get_ci(obj, "value").map(|(_, v)| v.clone());
    Ok(PatchOp { op, path, value })
}
