//! The Group resource: SCIM JSON ⇄ `identity.v1.Group`.

use std::collections::HashSet;

use scim_proto::identity::v1 as pb;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::error::ScimError;
use crate::scim::json::Fields;
use crate::scim::meta::{Location, MetaJson};
use crate::scim::write::Each;
use scim_model::{GROUP_SCHEMA, ResourceKind};

pub use scim_model::limits::MAX_MEMBERS_PER_REQUEST;

/// Decodes a Group body (POST, PUT). `displayName` is required; `members` are
/// optional, de-duplicated by `value`; `id`, `meta` and `schemas` are ignored (the
/// caller checks `id` against the URL).
pub fn group_from_json(v: &Value) -> Result<pb::Group, ScimError> {
    if !v.is_object() {
        return Err(ScimError::invalid_syntax("the body must be a Group object"));
    }
    let f = Fields::of(v, "")?;
    let display_name = f
        .string("displayName")?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            ScimError::invalid_value("\"displayName\" is required and must not be empty")
        })?;
    let members = members_from_json(f.get("members"))?;
    Ok(pb::Group {
        id: String::new(),
        external_id: f.string("externalId")?,
        display_name,
        member_count: members.len() as i64,
        members,
        meta: None,
    })
}

/// A `members` value: a list of member objects (a lone object is read as a list),
/// de-duplicated by `value` keeping the first, at most
/// [`MAX_MEMBERS_PER_REQUEST`].
pub(crate) fn members_from_json(v: Option<&Value>) -> Result<Vec<pb::Member>, ScimError> {
    let items: Vec<&Value> = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a.iter().filter(|v| !v.is_null()).collect(),
        Some(o @ Value::Object(_)) => vec![o],
        Some(_) => return Err(ScimError::invalid_value("\"members\" must be an array")),
    };
    if items.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(too_many_members());
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let m = member_from_json(item)?;
        if seen.insert(m.value.clone()) {
            out.push(m);
        }
    }
    Ok(out)
}

/// The error for a request naming more than [`MAX_MEMBERS_PER_REQUEST`] members.
pub(crate) fn too_many_members() -> ScimError {
    ScimError::invalid_value(format!(
        "a request may name at most {MAX_MEMBERS_PER_REQUEST} members"
    ))
}

/// One member: `value` required; `display` kept as sent; `type` `User` (default) or
/// `Group`, case-insensitive; `$ref` ignored (we derive it from `value`).
pub(crate) fn member_from_json(v: &Value) -> Result<pb::Member, ScimError> {
    let f = Fields::of(v, "members.")?;
    let value = f
        .string("value")?
        .ok_or_else(|| ScimError::invalid_value("every member needs a \"value\""))?;
    let r#type = match f.string("type")? {
        None => "User".to_owned(),
        Some(t) if t.eq_ignore_ascii_case("user") => "User".to_owned(),
        Some(t) if t.eq_ignore_ascii_case("group") => "Group".to_owned(),
        Some(_) => {
            return Err(ScimError::invalid_value(
                "\"members.type\" must be \"User\" or \"Group\"",
            ));
        }
    };
    Ok(pb::Member {
        value,
        r#type,
        display: f.string("display")?,
    })
}

/// A group as SCIM JSON, written straight into the serializer (see
/// [`crate::scim::user::UserJson`] for why). With `include_members` the `members` array
/// is always present (`[]` when empty: Okta's test suite asserts on it after PATCH);
/// without, it is left out entirely.
#[derive(Debug, Clone, Copy)]
pub struct GroupJson<'a> {
    group: &'a pb::Group,
    base_url: &'a str,
    include_members: bool,
}

impl<'a> GroupJson<'a> {
    /// Renders `group` with links under `base_url`.
    pub fn new(group: &'a pb::Group, base_url: &'a str, include_members: bool) -> Self {
        GroupJson {
            group,
            base_url,
            include_members,
        }
    }
}

impl Serialize for GroupJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let g = self.group;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("schemas", &[GROUP_SCHEMA])?;
        m.serialize_entry("id", &g.id)?;
        if let Some(x) = g.external_id.as_deref().filter(|x| !x.is_empty()) {
            m.serialize_entry("externalId", x)?;
        }
        m.serialize_entry("displayName", &g.display_name)?;
        if self.include_members {
            let base_url = self.base_url;
            let members = Each {
                items: &g.members,
                wrap: |member| MemberEntry { member, base_url },
            };
            m.serialize_entry("members", &members)?;
        }
        let meta = MetaJson {
            kind: ResourceKind::Group,
            meta: g.meta.as_ref(),
            base_url: self.base_url,
            id: &g.id,
        };
        m.serialize_entry("meta", &meta)?;
        m.end()
    }
}

/// One member, with its type and `$ref`.
struct MemberEntry<'a> {
    member: &'a pb::Member,
    base_url: &'a str,
}

impl Serialize for MemberEntry<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let member = self.member;
        let kind = if member.r#type.eq_ignore_ascii_case("group") {
            ResourceKind::Group
        } else {
            ResourceKind::User
        };
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("value", &member.value)?;
        if let Some(d) = member.display.as_deref().filter(|d| !d.is_empty()) {
            m.serialize_entry("display", d)?;
        }
        m.serialize_entry("type", kind.as_str())?;
        let location = Location {
            base_url: self.base_url,
            kind,
            id: &member.value,
        };
        m.serialize_entry("$ref", &location)?;
        m.end()
    }
}

/// Renders a group as a JSON value: the document [`GroupJson`] writes (scimctl prints
/// it).
pub fn group_to_json(g: &pb::Group, base_url: &str, include_members: bool) -> Value {
    // Strings and nested maps only: serialising into a `Value` cannot fail.
    serde_json::to_value(GroupJson::new(g, base_url, include_members)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::ScimType;

    const BASE: &str = "https://h/scim/v2";

    #[test]
    fn okta_push_with_members_round_trips() {
        // Okta's "push group memberships immediately" capture.
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Droids",
            "members": [
                {"value": "cc2573a1-e1c4-491d-a3db-ae4a2e078d61", "display": "bb-8@iamciam.dev"},
                {"value": "478c4cf4-1aa3-41a1-93da-4c154c5955e0", "display": "c-3po@iamciam.dev"},
                {"value": "34e14e58-f0fe-4e9d-aeb2-0da25fa6626d", "display": "r2-d2@iamciam.dev"}
            ]
        });
        let mut g = group_from_json(&body).unwrap();
        assert_eq!(g.display_name, "Droids");
        assert_eq!(g.members.len(), 3);
        assert_eq!(g.members[0].r#type, "User");
        assert_eq!(g.members[0].display.as_deref(), Some("bb-8@iamciam.dev"));
        g.id = "g1".into();
        let out = group_to_json(&g, BASE, true);
        assert_eq!(out["schemas"], json!([GROUP_SCHEMA]));
        assert_eq!(
            out["members"][1],
            json!({
                "value": "478c4cf4-1aa3-41a1-93da-4c154c5955e0",
                "display": "c-3po@iamciam.dev",
                "type": "User",
                "$ref": "https://h/scim/v2/Users/478c4cf4-1aa3-41a1-93da-4c154c5955e0"
            })
        );
        assert_eq!(out["meta"]["resourceType"], "Group");
        assert_eq!(out["meta"]["location"], "https://h/scim/v2/Groups/g1");
    }

    #[test]
    fn row_19_members_in_post_are_kept() {
        let g = group_from_json(&json!({
            "displayName": "Test SCIMv2",
            "members": [{"value": "u1", "display": "test.user@okta.local"}]
        }))
        .unwrap();
        assert_eq!(g.members.len(), 1);
        assert_eq!(g.members[0].value, "u1");
    }

    #[test]
    fn row_20_put_with_members_and_display_is_accepted() {
        let g = group_from_json(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
            "displayName": "Test SCIMv2",
            "members": [{"value": "23a35c27", "display": "test.user@okta.local",
                         "$ref": null, "type": "user"}],
            "meta": {"resourceType": "Group", "version": "v1.0"}
        }))
        .unwrap();
        assert_eq!(
            g.members[0].display.as_deref(),
            Some("test.user@okta.local")
        );
        assert_eq!(g.members[0].r#type, "User");
        assert!(g.id.is_empty());
    }

    #[test]
    fn entra_create_with_extra_schema_and_no_members() {
        let g = group_from_json(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"}
        }))
        .unwrap();
        assert_eq!(
            g.external_id.as_deref(),
            Some("8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159")
        );
        assert!(g.members.is_empty());
    }

    #[test]
    fn members_are_deduplicated_and_nested_groups_allowed() {
        let g = group_from_json(&json!({
            "DisplayName": "x",
            "Members": [{"value": "a", "display": "first"}, {"value": "a", "display": "second"},
                        {"value": "g2", "type": "GROUP"}]
        }))
        .unwrap();
        assert_eq!(g.members.len(), 2);
        assert_eq!(g.members[0].display.as_deref(), Some("first"));
        assert_eq!(g.members[1].r#type, "Group");
        let out = group_to_json(&g, BASE, true);
        assert_eq!(out["members"][1]["$ref"], "https://h/scim/v2/Groups/g2");
    }

    #[test]
    fn members_key_follows_include_flag() {
        let g = pb::Group {
            id: "g".into(),
            display_name: "n".into(),
            ..Default::default()
        };
        assert_eq!(group_to_json(&g, BASE, true)["members"], json!([]));
        assert!(group_to_json(&g, BASE, false).get("members").is_none());
    }

    #[test]
    fn invalid_bodies() {
        let too_many: Vec<Value> = (0..=MAX_MEMBERS_PER_REQUEST)
            .map(|i| json!({"value": format!("u{i}")}))
            .collect();
        for body in [
            json!({}),
            json!({"displayName": ""}),
            json!({"displayName": 5}),
            json!({"displayName": "x", "members": [{"display": "no value"}]}),
            json!({"displayName": "x", "members": [{"value": "a", "type": "Robot"}]}),
            json!({"displayName": "x", "members": "u1"}),
            json!({"displayName": "x", "members": too_many}),
        ] {
            let e = group_from_json(&body).unwrap_err();
            assert_eq!(e.scim_type(), Some(ScimType::InvalidValue), "{body}");
        }
        assert_eq!(
            group_from_json(&json!([])).unwrap_err().scim_type(),
            Some(ScimType::InvalidSyntax)
        );
    }
}
