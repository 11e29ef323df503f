//! The `meta` attribute (RFC 7643 §3.1) shared by every resource representation.

use std::fmt;

use chrono::{DateTime, SecondsFormat};
use prost_types::Timestamp;
use scim_proto::identity::v1 as pb;
use serde::ser::{Serialize, SerializeMap, Serializer};

use scim_model::ResourceKind;

/// `{base_url}/Users/{id}` or `{base_url}/Groups/{id}`, written where it is displayed
/// (straight into a response body, without a `String` of its own).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Location<'a> {
    /// The SCIM base URL.
    pub base_url: &'a str,
    /// Which endpoint.
    pub kind: ResourceKind,
    /// The resource id.
    pub id: &'a str,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = self.base_url.trim_end_matches('/');
        write!(f, "{base}{}/{}", self.kind.endpoint(), self.id)
    }
}

impl Serialize for Location<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A protobuf timestamp in RFC 3339 form with `Z`, or `None` when out of range.
pub(crate) fn rfc3339(ts: &Timestamp) -> Option<String> {
    let nanos = u32::try_from(ts.nanos).ok()?;
    DateTime::from_timestamp(ts.seconds, nanos)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// The `meta` object of a resource (RFC 7643 §3.1), serialised in place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MetaJson<'a> {
    /// The resource type.
    pub kind: ResourceKind,
    /// Timestamps and version, when the service sent them.
    pub meta: Option<&'a pb::Meta>,
    /// The SCIM base URL, for `location`.
    pub base_url: &'a str,
    /// The resource id, for `location`.
    pub id: &'a str,
}

impl Serialize for MetaJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("resourceType", self.kind.as_str())?;
        if let Some(meta) = self.meta {
            if let Some(t) = meta.created.as_ref().and_then(rfc3339) {
                m.serialize_entry("created", &t)?;
            }
            if let Some(t) = meta.last_modified.as_ref().and_then(rfc3339) {
                m.serialize_entry("lastModified", &t)?;
            }
        }
        let location = Location {
            base_url: self.base_url,
            kind: self.kind,
            id: self.id,
        };
        m.serialize_entry("location", &location)?;
        if let Some(meta) = self.meta.filter(|m| m.version > 0) {
            m.serialize_entry("version", &format_args!("W/\"{}\"", meta.version))?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// The `meta` object of a resource, as a JSON value.
    fn meta_json(kind: ResourceKind, meta: Option<&pb::Meta>, base_url: &str, id: &str) -> Value {
        serde_json::to_value(MetaJson {
            kind,
            meta,
            base_url,
            id,
        })
        .unwrap_or_default()
    }

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
