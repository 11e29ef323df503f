//! Attribute projection of a response (`attributes`, `excludedAttributes`, RFC 7644
//! §3.9), as every resource route reads it from its request, and what it implies about
//! what to load (a user's groups, a group's members).

use serde::Serialize;

use crate::error::ScimError;
use crate::extract::QueryPairs;
use crate::scim::projection::{self, Projected};
use scim_model::ResourceKind;

/// Attribute projection parameters of a request.
pub(crate) struct Projection {
    /// `attributes`: only these (and those returned always).
    pub attributes: Option<String>,
    /// `excludedAttributes`: all but these.
    pub excluded: Option<String>,
}

impl Projection {
    pub(crate) fn from_query(q: &QueryPairs) -> Self {
        let find = |name: &str| {
            q.0.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .filter(|v| !v.trim().is_empty())
        };
        Projection {
            attributes: find("attributes"),
            excluded: find("excludedAttributes"),
        }
    }

    /// Whether neither parameter names anything.
    fn is_empty(&self) -> bool {
        let blank = |l: &Option<String>| l.as_deref().is_none_or(|l| l.trim().is_empty());
        blank(&self.attributes) && blank(&self.excluded)
    }

    /// `resource` (of type `kind`) as the response carries it: whole when nothing is
    /// projected, so it is written straight from its message; otherwise rendered to JSON
    /// and projected.
    pub(crate) fn shape<T: Serialize>(
        &self,
        resource: T,
        kind: ResourceKind,
    ) -> Result<Projected<T>, ScimError> {
        if self.is_empty() {
            return Ok(Projected::Whole(resource));
        }
        let mut v = serde_json::to_value(&resource)
            .map_err(|e| ScimError::Internal(format!("rendering a resource: {e}")))?;
        projection::project(
            &mut v,
            kind,
            self.attributes.as_deref(),
            self.excluded.as_deref(),
        )?;
        Ok(Projected::Json(v))
    }

    /// Whether the users' `groups` must be loaded.
    pub(crate) fn wants_groups(&self) -> bool {
        let named = |list: &Option<String>| {
            list.as_deref().is_some_and(|l| {
                l.split(',').any(|a| {
                    let a = a.trim().to_ascii_lowercase();
                    a == "groups" || a.starts_with("groups.") || a.ends_with(":user:groups")
                })
            })
        };
        if named(&self.excluded) {
            return false;
        }
        self.attributes.is_none() || named(&self.attributes)
    }

    /// Whether the groups' `members` must be loaded.
    pub(crate) fn wants_members(&self) -> bool {
        projection::members_requested(self.attributes.as_deref(), self.excluded.as_deref())
    }
}
