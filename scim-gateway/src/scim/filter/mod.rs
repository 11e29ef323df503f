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

mod lexer;
mod parser;
#[cfg(test)]
mod tests;

use scim_proto::identity::v1 as pb;

use crate::error::ScimError;
use scim_model::{AttrDef, ResourceKind};

pub use scim_model::limits::{MAX_FILTER_BYTES, MAX_FILTER_COMPARISONS, MAX_FILTER_DEPTH};

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
    if input.len() > MAX_FILTER_BYTES {
        return Err(ScimError::invalid_filter(format!(
            "the filter is longer than {MAX_FILTER_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The filter's shape without its values, for traces and logs; the format is
/// `scim_model::filter_shape`'s, shared with identity-service.
pub fn shape(f: &pb::Filter) -> String {
    scim_model::filter_shape::filter_shape(f)
}
