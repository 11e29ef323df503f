//! PATCH paths (RFC 7644 §3.5.2): `attr`, `attr.sub`, URN-qualified forms, and value
//! paths `attr[filter]` optionally followed by `.sub`.

use scim_proto::identity::v1 as pb;

use crate::error::ScimError;
use crate::scim::filter::parse_within;
use scim_model::path::{clip, resolve};
use scim_model::{AttrDef, ResourceKind, SchemaDef};

/// A parsed PATCH target.
#[derive(Debug, Clone)]
pub(super) struct PatchPath {
    /// The schema defining the attribute.
    pub(super) schema: &'static SchemaDef,
    /// The top-level attribute.
    pub(super) attr: &'static AttrDef,
    /// The value filter of a value path, relative to `attr`'s elements.
    pub(super) filter: Option<pb::Filter>,
    /// The sub-attribute, if the path names one.
    pub(super) sub: Option<&'static AttrDef>,
}

impl PatchPath {
    /// The path as the client would write it canonically, for error messages.
    pub(super) fn describe(&self) -> String {
        let mut s = String::new();
        if self.schema.is_extension() {
            s.push_str(self.schema.id);
            s.push(':');
        }
        s.push_str(self.attr.name);
        if self.filter.is_some() {
            s.push_str("[…]");
        }
        if let Some(sub) = self.sub {
            s.push('.');
            s.push_str(sub.name);
        }
        s
    }
}

fn invalid(raw: &str) -> ScimError {
    ScimError::invalid_path(format!("invalid or unknown path \"{}\"", clip(raw)))
}

/// Parses a PATCH path of a `kind` resource. Every failure is `invalidPath`.
pub(super) fn parse_path(kind: ResourceKind, raw: &str) -> Result<PatchPath, ScimError> {
    let raw = raw.trim();
    let Some(open) = raw.find('[') else {
        let p = resolve(kind, raw).ok_or_else(|| invalid(raw))?;
        return Ok(PatchPath {
            schema: p.schema,
            attr: p.attr,
            filter: None,
            sub: p.sub,
        });
    };
    let close = raw
        .rfind(']')
        .filter(|&c| c > open)
        .ok_or_else(|| invalid(raw))?;
    let (head, inner, rest) = match (
        raw.get(..open),
        raw.get(open + 1..close),
        raw.get(close + 1..),
    ) {
        (Some(h), Some(i), Some(r)) => (h, i, r),
        _ => return Err(invalid(raw)),
    };
    let p = resolve(kind, head)
        .filter(|p| p.sub.is_none() && p.attr.multi_valued && p.attr.is_complex())
        .ok_or_else(|| invalid(raw))?;
    let filter = parse_within(inner, kind, p.attr)
        .map_err(|e| ScimError::invalid_path(format!("invalid filter in path: {e}")))?;
    let sub = match rest {
        "" => None,
        r => {
            let name = r.strip_prefix('.').ok_or_else(|| invalid(raw))?;
            Some(p.attr.sub(name).ok_or_else(|| invalid(raw))?)
        }
    };
    Ok(PatchPath {
        schema: p.schema,
        attr: p.attr,
        filter: Some(filter),
        sub,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ScimType;

    #[test]
    fn parses_every_documented_shape() {
        let cases = [
            ("active", "active"),
            ("name.familyName", "name.familyName"),
            ("NAME.GIVENNAME", "name.givenName"),
            ("emails[type eq \"work\"].value", "emails[…].value"),
            (
                "phoneNumbers[type eq \"mobile\"].value",
                "phoneNumbers[…].value",
            ),
            (
                "addresses[type eq \"work\"].postalCode",
                "addresses[…].postalCode",
            ),
            ("emails[type eq \"work\"]", "emails[…]"),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            ),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:userName",
                "userName",
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(
                parse_path(ResourceKind::User, raw).unwrap().describe(),
                want,
                "{raw}"
            );
        }
        let p = parse_path(ResourceKind::Group, "members[value eq \"a]b\"]").unwrap();
        assert_eq!(p.describe(), "members[…]");
    }

    #[test]
    fn malformed_paths_are_invalid_path() {
        for raw in [
            "nosuch",
            "emails[type eq \"work\"",
            "emails]type eq \"work\"[",
            "emails[type eq work]",
            "emails[type eq \"work\"]value",
            "emails[type eq \"work\"].nosuch",
            "name[givenName eq \"x\"]",
            "emails.value[type eq \"x\"]",
            "emails[]",
        ] {
            let e = parse_path(ResourceKind::User, raw).unwrap_err();
            assert_eq!(e.scim_type(), Some(ScimType::InvalidPath), "{raw}");
        }
    }
}
