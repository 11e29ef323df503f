//! Pieces the resource serialisers ([`crate::scim::user::UserJson`],
//! [`crate::scim::group::GroupJson`]) share.

use serde::ser::{Serialize, Serializer};

/// A JSON array of `items`, each written as `wrap` presents it, without collecting the
/// wrapped items first.
pub(crate) struct Each<'a, T, W> {
    /// The values.
    pub items: &'a [T],
    /// How one value is written.
    pub wrap: W,
}

impl<'a, T, W, E> Serialize for Each<'a, T, W>
where
    W: Fn(&'a T) -> E,
    E: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.items.iter().map(&self.wrap))
    }
}
