//! The `scimType` error keywords of RFC 7644 §3.12 and RFC 9865 §4, and how they cross
//! a gRPC hop.

/// `scimType` values of RFC 7644 §3.12 and of cursor paging (RFC 9865 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    /// The filter syntax was invalid or the filter is unsupported.
    InvalidFilter,
    /// The filter yields too many results.
    TooMany,
    /// A uniqueness rule was violated.
    Uniqueness,
    /// An attempt to change a read-only or immutable attribute.
    Mutability,
    /// The request body could not be parsed or violates the schema.
    InvalidSyntax,
    /// A PATCH path is invalid.
    InvalidPath,
    /// A PATCH path did not yield a target.
    NoTarget,
    /// A value is of the wrong type or not allowed.
    InvalidValue,
    /// The protocol version is not supported.
    InvalidVers,
    /// The request cannot be completed because of sensitive information.
    Sensitive,
    /// A `cursor` is malformed or was issued for another list (RFC 9865).
    InvalidCursor,
    /// A `cursor` has expired (RFC 9865).
    ExpiredCursor,
}

const ALL: [ScimType; 12] = [
    ScimType::InvalidFilter,
    ScimType::TooMany,
    ScimType::Uniqueness,
    ScimType::Mutability,
    ScimType::InvalidSyntax,
    ScimType::InvalidPath,
    ScimType::NoTarget,
    ScimType::InvalidValue,
    ScimType::InvalidVers,
    ScimType::Sensitive,
    ScimType::InvalidCursor,
    ScimType::ExpiredCursor,
];

/// The `google.rpc.ErrorInfo` domain under which identity.v1 sends a `scimType` as the
/// reason: the SCIM error message URN, so the reason reads as what it is.
pub const ERROR_INFO_DOMAIN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

impl ScimType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
            ScimType::InvalidCursor => "invalidCursor",
            ScimType::ExpiredCursor => "expiredCursor",
        }
    }

    /// The keyword spelled `raw`, exactly as RFC 7644 writes it.
    pub fn parse(raw: &str) -> Option<ScimType> {
        ALL.into_iter().find(|t| t.as_str() == raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_reads_back() {
        for t in ALL {
            assert_eq!(ScimType::parse(t.as_str()), Some(t));
        }
        assert_eq!(ScimType::parse("InvalidFilter"), None);
        assert_eq!(ScimType::parse(""), None);
    }
}
