//! SCIM 2.0 wire logic, independent of HTTP: resource JSON, filters, PATCH, projection
//! and discovery documents.
