//! Every bound on client input, in one place.
//!
//! The gateway checks what it can see before a request leaves it (so an IdP gets the
//! precise SCIM error without a hop); identity-service checks the same numbers again,
//! for internal services that call `identity.v1` directly. Either way the answer is the
//! same limit, so the README's table holds for every layer.

/// Longest `filter` query parameter, in bytes.
pub const MAX_FILTER_BYTES: usize = 4096;
/// Deepest nesting of `and`/`or`/`not`/value paths in a filter.
pub const MAX_FILTER_DEPTH: usize = 16;
/// Most comparisons in one filter.
pub const MAX_FILTER_COMPARISONS: usize = 64;
/// Longest string attribute value (and filter literal), in bytes.
pub const MAX_STRING_BYTES: usize = 4096;
/// Longest identifying value: `userName`, group `displayName`, `externalId`, a member
/// value. These are indexed, so they are held shorter than other strings.
pub const MAX_NAME_BYTES: usize = 1024;
/// Longest resource id in a URL or a request, in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Most values of one multi-valued attribute of a user.
pub const MAX_VALUES: usize = 100;
/// Largest stored user (its encoded attributes), in bytes.
pub const MAX_USER_BYTES: usize = 256 * 1024;
/// Longest password, in bytes (hashing cost grows with it).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Most members one request may name (POST/PUT/PATCH of a group, over all changes).
pub const MAX_MEMBERS_PER_REQUEST: usize = 1000;
/// Most operations in one PATCH request.
pub const MAX_PATCH_OPERATIONS: usize = 1000;
/// Most paths one `UpdateUser` field mask may name.
pub const MAX_MASK_PATHS: usize = 64;
/// Most single-attribute changes one PATCH may make once operations without a path are
/// split into one change per attribute they name.
pub const MAX_PATCH_CHANGES: usize = 4 * MAX_PATCH_OPERATIONS;
/// Most operations in one `/Bulk` request (advertised as `bulk.maxOperations`).
pub const MAX_BULK_OPERATIONS: usize = 1000;
/// Largest `/Bulk` request body, in bytes (advertised as `bulk.maxPayloadSize`).
pub const MAX_BULK_PAYLOAD_BYTES: usize = 1024 * 1024;
/// Most attributes (sub-attributes included) one extension schema may define.
pub const MAX_EXTENSION_ATTRIBUTES: usize = 100;
/// Most canonical values one extension attribute may list.
pub const MAX_CANONICAL_VALUES: usize = 100;
