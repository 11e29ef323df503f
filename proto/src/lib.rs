//! The gRPC contracts of the stack, generated from `proto/**/*.proto` at build time.
//!
//! * [`identity::v1`]: the directory (users, groups, memberships).
//! * [`auth::v1`]: providers, tokens, keys, introspection and revocation.
//!
//! [`FILE_DESCRIPTOR_SET`] feeds gRPC server reflection.

/// The directory contract.
pub mod identity {
    /// Version 1 of the directory contract.
    #[allow(missing_docs, clippy::all)]
    pub mod v1 {
        tonic::include_proto!("identity.v1");
    }
}

/// The credentials contract.
pub mod auth {
    /// Version 1 of the credentials contract.
    #[allow(missing_docs, clippy::all)]
    pub mod v1 {
        tonic::include_proto!("auth.v1");
    }
}

/// Encoded `FileDescriptorSet` of every package, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));
