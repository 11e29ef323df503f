//! SCIM's resource model, shared by the gateway and identity-service.
//!
//! Every fact about a SCIM attribute lives here, once:
//!
//! * [`schema`]: schema URNs, the two resource kinds and what an attribute can be
//!   (type, mutability, returned, uniqueness, caseExact);
//! * the catalogue ([`USER`], [`ENTERPRISE_USER`], [`GROUP`]): every attribute of
//!   RFC 7643 §4 we serve, with its characteristics; `/Schemas` and `/ResourceTypes`
//!   are rendered from it;
//! * [`path`]: raw attribute names (any case, with or without a URN prefix) resolved
//!   against the catalogue;
//! * [`stored`]: where a resolved attribute is kept in the `identity.v1` form of a
//!   resource, for the filter compiler and the PATCH engine;
//! * [`limits`]: every bound on client input, enforced by whichever layer sees it
//!   first and by identity-service for its own callers;
//! * [`filter_shape`]: the one written form of a filter without its values, for spans;
//! * [`ScimType`]: the error keywords of RFC 7644 §3.12, which identity.v1 errors carry.
//!
//! A new attribute is one catalogue entry (plus, when it is stored in a new place, one
//! [`stored::Stored`] variant); a new resource type is a [`ResourceKind`] variant with
//! its schemas.

mod catalogue;
pub mod extension;
pub mod filter_shape;
pub mod limits;
pub mod path;
pub mod schema;
mod scim_type;
pub mod sort;
pub mod stored;

pub use catalogue::{ENTERPRISE_USER, GROUP, USER};
pub use path::{AttrPath, resolve, resolve_in, schema_by_urn};
pub use schema::*;
pub use scim_type::{ERROR_INFO_DOMAIN, ScimType};
