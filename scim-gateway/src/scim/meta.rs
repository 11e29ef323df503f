//! The `meta` attribute (RFC 7643 §3.1) shared by every resource representation.

use chrono::{DateTime, SecondsFormat};
use prost_types::Timestamp;
use scim_proto::identity::v1 as pb;
use serde_json::{Map, Value};

use crate::scim::schema::ResourceKind;

/// `{base_url}/Users/{id}` or `{base_url}/Groups/{id}`.
pub(crate) fn location(base_url: &str, kind: ResourceKind, id: &str) -> String {
    format!("{}{}/{id}", base_url.trim_end_matches('/'), kind.endpoint())
}

/// The weak entity tag of a version, `W/"<n>"`.
pub(crate) fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// A protobuf timestamp in RFC 3339 form with `Z`, or `None` when out of range.
pub(crate) fn rfc3339(ts: &Timestamp) -> Option<String> {
    let nanos = u32::try_from(ts.nanos).ok()?;
    DateTime::from_timestamp(ts.seconds, nanos)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// The `meta` object of a resource.
pub(crate) fn meta_json(
    kind: ResourceKind,
    meta: Option<&pb::Meta>,
    base_url: &str,
    id: &str,
) -> Value {
    let mut m = Map::new();
    m.insert("resourceType".into(), kind.as_str().into());
    if let Some(meta) = meta {
        if let Some(t) = meta.created.as_ref().and_then(rfc3339) {
            m.insert("created".into(), t.into());
        }
        if let Some(t) = meta.last_modified.as_ref().and_then(rfc3339) {
            m.insert("lastModified".into(), t.into());
        }
    }
    m.insert("location".into(), location(base_url, kind, id).into());
    if let Some(meta) = meta.filter(|m| m.version > 0) {
        m.insert("version".into(), etag(meta.version).into());
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn renders_rfc_3339_with_z_and_weak_etag() {
        let meta = pb::Meta {
            created: Some(Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            last_modified: Some(Timestamp {
                seconds: 1_700_000_001,
                nanos: 500_000_000,
            }),
            version: 3,
        };
        assert_eq!(
            meta_json(ResourceKind::User, Some(&meta), "https://h/scim/v2/", "u1"),
            json!({
                "resourceType": "User",
                "created": "2023-11-14T22:13:20Z",
                "lastModified": "2023-11-14T22:13:21.500Z",
                "location": "https://h/scim/v2/Users/u1",
                "version": "W/\"3\""
            })
        );
    }

    #[test]
    fn out_of_range_timestamps_are_left_out() {
        let meta = pb::Meta {
            created: Some(Timestamp {
                seconds: i64::MAX,
                nanos: -1,
            }),
            last_modified: None,
            version: 0,
        };
        let m = meta_json(ResourceKind::Group, Some(&meta), "https://h", "g");
        assert_eq!(
            m,
            json!({"resourceType":"Group","location":"https://h/Groups/g"})
        );
    }
}
