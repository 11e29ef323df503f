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

pub use scim_model::limits::{MAX_STRING_BYTES, MAX_VALUES};
