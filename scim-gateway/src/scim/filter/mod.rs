//! SCIM filter expressions (RFC 7644 §3.4.2.2) → identity.v1 filter trees.
//!
//! The whole grammar is supported: comparisons with every operator, `pr`, `and` (binding
//! tighter than `or`), `not (…)`, parentheses, value paths such as
//! `emails[type eq "work" and value co "@example.com"]`, a value path followed by a
//! sub-attribute (`emails[type eq "work"].value eq "a@b"`, which becomes one value-path
//! filter over the same element), URN-qualified attribute names, and case-insensitive
//! keywords. Attribute names come out in the canonical spelling the identity-service
//! evaluates. Anything we cannot translate faithfully is `400 invalidFilter`, never a
//! broader query: an IdP that links the wrong user is worse than one that sees an error.

mod eval;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::filter::Kind;

pub(crate) use eval::matches;

use crate::error::ScimError;
use crate::scim::schema::{AttrDef, ResourceKind};

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not (…)` and `[…]` accepted.
pub const MAX_FILTER_DEPTH: usize = 16;
/// Most comparisons (including `pr`) in one filter.
pub const MAX_FILTER_COMPARISONS: usize = 64;

/// Parses a filter over resources of `kind`.
///
/// Errors are `400 invalidFilter` with a detail naming the problem (position, unknown
/// attribute, unquoted value, a limit).
pub fn parse(input: &str, kind: ResourceKind) -> Result<pb::Filter, ScimError> {
    check_len(input)?;
    parser::Parser::new(input, kind, None)?.parse_all()
}

/// Parses the inside of `parent[...]`: attribute names are sub-attributes of `parent`.
pub(crate) fn parse_within(
    input: &str,
    kind: ResourceKind,
    parent: &'static AttrDef,
) -> Result<pb::Filter, ScimError> {
    check_len(input)?;
    parser::Parser::new(input, kind, Some(parent))?.parse_all()
}

fn check_len(input: &str) -> Result<(), ScimError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter(format!(
            "the filter is longer than {MAX_FILTER_LEN} bytes"
        )));
    }
    Ok(())
}

/// The filter's shape without its values, e.g. `userName eq ?` or
/// `emails[type eq ? and value co ?]`, for traces and logs.
pub fn shape(f: &pb::Filter) -> String {
    let mut out = String::new();
    write_shape(f, &mut out, false);
    out
}

fn write_shape(f: &pb::Filter, out: &mut String, parenthesise_or: bool) {
    match &f.kind {
        Some(Kind::Compare(c)) => {
            out.push_str(&c.attribute);
            out.push(' ');
            let op = pb::CompareOp::try_from(c.op).unwrap_or(pb::CompareOp::Unspecified);
            out.push_str(parser::op_name(op));
            if op != pb::CompareOp::Pr {
                out.push_str(" ?");
            }
        }
        Some(Kind::And(a)) => join_shape(&a.operands, " and ", true, out),
        Some(Kind::Or(o)) => {
            if parenthesise_or {
                out.push('(');
            }
            join_shape(&o.operands, " or ", false, out);
            if parenthesise_or {
                out.push(')');
            }
        }
        Some(Kind::Not(n)) => {
            out.push_str("not (");
            if let Some(inner) = n.operand.as_deref() {
                write_shape(inner, out, false);
            }
            out.push(')');
        }
        Some(Kind::ValuePath(v)) => {
            out.push_str(&v.attribute);
            out.push('[');
            if let Some(inner) = v.filter.as_deref() {
                write_shape(inner, out, false);
            }
            out.push(']');
        }
        None => out.push('?'),
    }
}

fn join_shape(operands: &[pb::Filter], sep: &str, parenthesise_or: bool, out: &mut String) {
    for (i, o) in operands.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        write_shape(o, out, parenthesise_or);
    }
}
