//! The User resource: SCIM JSON ⇄ `identity.v1.User`.
//!
//! Decoding is lenient where IdPs are known to be sloppy (attribute-name case, `null`
//! for unset, Entra's `"True"`/`"False"`, a bare-string `manager`, read-only attributes
//! echoed back, unknown schema URNs) and strict where leniency would lose data (wrong
//! JSON types, oversized values). Encoding always produces the canonical RFC 7643
//! representation.

mod decode;
mod encode;
#[cfg(test)]
mod tests;

pub use decode::user_from_json;
pub use encode::{UserJson, user_to_json};

/// Longest string attribute value accepted, in bytes.
pub const MAX_STRING_BYTES: usize = 4096;
/// Most values accepted in one multi-valued attribute (emails, phoneNumbers, …).
pub const MAX_VALUES: usize = 100;
