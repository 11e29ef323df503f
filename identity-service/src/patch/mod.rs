//! User PATCH (RFC 7644 §3.5.2), applied where the user is stored.
//!
//! [`UserPatch::check`] turns `identity.v1` PATCH operations into checked changes: each
//! attribute resolved through the shared model, each value filter compiled, each value
//! of the right type, nothing read-only touched. [`UserPatch::apply`] then changes the
//! stored user inside the write transaction, so the whole PATCH is one read-modify-write
//! that a concurrent change can neither interleave with nor be lost to.
//!
//! The semantics beyond the RFC are the ones Okta and Entra rely on: `""` and `null`
//! clear; a filtered `add`/`replace` that matches nothing creates the value from the
//! filter's `eq` comparisons; at most one value of an attribute stays primary, the one
//! written last.

mod apply;
mod elements;

use scim_model::stored::{Container, EnterpriseField, Field, Stored, locate};
use scim_model::{ResourceKind, ScimType, limits, path::clip};
use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::patch_value::Kind as ValueKind;

use crate::error::IdentityError;
use crate::filter::{self, Node};

/// The three operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `add`.
    Add,
    /// `remove`.
    Remove,
    /// `replace`.
    Replace,
}

/// A checked value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// None sent: clear (or, for `remove`, nothing to match).
    Clear,
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// Values of a multi-valued attribute.
    Elements(Vec<pb::PatchElement>),
}

/// One checked change of one attribute.
#[derive(Debug, Clone)]
pub struct Change {
    op: Op,
    target: Stored,
    /// The value filter, compiled relative to the container.
    filter: Option<Node>,
    /// The `eq` values of the filter: what a value created by a filtered write starts with.
    seed: Option<pb::PatchElement>,
    value: Value,
    /// The attribute as the client named it, canonically, for errors.
    label: String,
}

/// A checked PATCH of one user.
#[derive(Debug, Clone)]
pub struct UserPatch {
    changes: Vec<Change>,
}

/// What a PATCH does to the password, which is hashed before the write and never
/// reaches [`UserPatch::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordEdit {
    /// The PATCH does not touch it.
    Keep,
    /// Removed or cleared.
    Clear,
    /// Set to this clear text.
    Set(String),
}

fn refused(t: ScimType, message: impl Into<String>) -> IdentityError {
    IdentityError::refused(t, message)
}

impl UserPatch {
    /// Checks `operations`. Every failure names the operation's index and carries the
    /// SCIM error type an IdP is owed (`invalidPath`, `mutability`, `invalidValue`, ...).
    pub fn check(operations: Vec<pb::UserPatchOperation>) -> Result<Self, IdentityError> {
        if operations.is_empty() {
            return Err(refused(ScimType::InvalidValue, "a PATCH needs operations"));
        }
        if operations.len() > limits::MAX_PATCH_CHANGES {
            return Err(refused(
                ScimType::InvalidValue,
                format!(
                    "a PATCH may change at most {} attributes",
                    limits::MAX_PATCH_CHANGES
                ),
            ));
        }
        let changes = operations
            .into_iter()
            .enumerate()
            .map(|(i, o)| check_one(o).map_err(in_operation(i)))
            .collect::<Result<_, _>>()?;
        Ok(UserPatch { changes })
    }

    /// How many single-attribute changes the PATCH makes.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Whether the PATCH makes no change (never true of a checked one).
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The password the PATCH leaves: the last operation on it wins.
    pub fn password(&self) -> PasswordEdit {
        let mut edit = PasswordEdit::Keep;
        for c in self.changes.iter().filter(|c| c.target == Stored::Password) {
            edit = match (&c.op, &c.value) {
                (Op::Remove, _) | (_, Value::Clear) => PasswordEdit::Clear,
                (_, Value::Str(s)) if s.is_empty() => PasswordEdit::Clear,
                (_, Value::Str(s)) => PasswordEdit::Set(s.clone()),
                _ => edit,
            };
        }
        edit
    }

    /// Applies every change, in order, to `user` (the stored user, `active` included).
    /// On error `user` may be half changed; the caller drops it with the transaction.
    pub fn apply(&self, user: &mut pb::User) -> Result<(), IdentityError> {
        for (i, c) in self.changes.iter().enumerate() {
            apply::change(user, c).map_err(in_operation(i))?;
        }
        apply::drop_empty_values(user);
        Ok(())
    }
}

/// Names the operation a refusal is about, so a client can find it in its request.
fn in_operation(i: usize) -> impl FnOnce(IdentityError) -> IdentityError {
    move |e| match e {
        IdentityError::Refused { scim_type, message } => IdentityError::Refused {
            scim_type,
            message: format!("operation {i}: {message}"),
        },
        other => other,
    }
}

fn check_one(o: pb::UserPatchOperation) -> Result<Change, IdentityError> {
    let op = match pb::PatchOp::try_from(o.op) {
        Ok(pb::PatchOp::Add) => Op::Add,
        Ok(pb::PatchOp::Remove) => Op::Remove,
        Ok(pb::PatchOp::Replace) => Op::Replace,
        _ => {
            return Err(refused(
                ScimType::InvalidValue,
                "op must be add, remove or replace",
            ));
        }
    };
    let unknown = || {
        refused(
            ScimType::InvalidPath,
            format!("unknown attribute \"{}\"", clip(&o.attribute)),
        )
    };
    let extension = scim_model::schema_by_urn(ResourceKind::User, &o.attribute)
        .filter(|schema| schema.is_extension());
    let (target, label) = if let Some(schema) = extension {
        (Stored::Enterprise, schema.id.to_owned())
    } else {
        let at = scim_model::resolve(ResourceKind::User, &o.attribute).ok_or_else(unknown)?;
        let target = locate(ResourceKind::User, &at).ok_or_else(unknown)?;
        (target, at.to_string())
    };
    if read_only(target) {
        return Err(refused(
            ScimType::Mutability,
            format!("\"{label}\" is read-only"),
        ));
    }
    let container = match target {
        Stored::Values(c) | Stored::Each(c, _) => Some(c),
        _ => None,
    };
    let (filter, seed) = match (o.value_filter, container) {
        (None, _) => (None, None),
        (Some(f), Some(c)) => {
            let node = filter::compile_within(c, &f).map_err(|e| {
                refused(
                    ScimType::InvalidPath,
                    format!("invalid filter in path: {e}"),
                )
            })?;
            (Some(node), elements::seed(c, &f))
        }
        (Some(_), None) => {
            return Err(refused(
                ScimType::InvalidPath,
                format!("\"{label}\" is not multi-valued; it takes no filter"),
            ));
        }
    };
    let value = match o.value.and_then(|v| v.kind) {
        None => Value::Clear,
        Some(ValueKind::StringValue(s)) => Value::Str(s),
        Some(ValueKind::BoolValue(b)) => Value::Bool(b),
        Some(ValueKind::Elements(e)) => Value::Elements(e.elements),
    };
    check_value(op, target, filter.is_some(), &value, &label)?;
    Ok(Change {
        op,
        target,
        filter,
        seed,
        value,
        label,
    })
}

/// Attributes a client can never write.
fn read_only(target: Stored) -> bool {
    matches!(
        target,
        Stored::Id
            | Stored::MetaCreated
            | Stored::MetaLastModified
            | Stored::MetaVersion
            | Stored::MetaResourceType
            | Stored::Values(Container::Groups | Container::Members)
            | Stored::Each(Container::Groups | Container::Members, _)
    )
}

/// Whether `value` has the type `target` holds.
fn check_value(
    op: Op,
    target: Stored,
    filtered: bool,
    value: &Value,
    label: &str,
) -> Result<(), IdentityError> {
    let wrong = |what: &str| {
        Err(refused(
            ScimType::InvalidValue,
            format!("\"{label}\" must be {what}"),
        ))
    };
    if matches!(value, Value::Clear) {
        return Ok(());
    }
    match target {
        Stored::Active | Stored::Each(_, Field::Primary) => match value {
            Value::Bool(_) => Ok(()),
            _ => wrong("a boolean"),
        },
        Stored::Values(_) => match value {
            Value::Elements(e) if filtered && op != Op::Remove && e.len() != 1 => {
                wrong("one value to write into each matching value")
            }
            Value::Elements(e) if e.len() > limits::MAX_VALUES => {
                wrong(&format!("at most {} values", limits::MAX_VALUES))
            }
            Value::Elements(_) => Ok(()),
            _ => wrong("a list of values"),
        },
        Stored::Name | Stored::Enterprise | Stored::EnterpriseAttr(EnterpriseField::Manager) => {
            wrong("sent as its sub-attributes")
        }
        _ => match value {
            Value::Str(s) if s.len() > limits::MAX_STRING_BYTES => {
                wrong(&format!("at most {} bytes", limits::MAX_STRING_BYTES))
            }
            Value::Str(_) => Ok(()),
            _ => wrong("a string"),
        },
    }
}

#[cfg(test)]
mod tests;
