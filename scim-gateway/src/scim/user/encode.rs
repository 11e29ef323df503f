//! `identity.v1.User` → the canonical SCIM JSON representation.
//!
//! [`UserJson`] writes the message straight into the serializer. Responses without an
//! attribute projection are serialised from it directly; building a
//! `serde_json::Value` tree first and serialising that was most of the gateway's CPU on
//! a 100-user page (docs/PERFORMANCE.md). [`user_to_json`] produces the same document as
//! a `Value`, for the paths that edit it (projection, PATCH).

use scim_proto::identity::v1 as pb;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::scim::meta::{Location, MetaJson};
use crate::scim::write::Each;
use scim_model::{ENTERPRISE_USER_SCHEMA, ResourceKind, USER_SCHEMA};

/// A user as SCIM JSON. `base_url` is the SCIM base (e.g. `https://host/scim/v2`) used
/// for `meta.location` and every `$ref`.
///
/// `active` is present whenever it is set — always, unless a client removed it
/// explicitly (Okta skips users without it on import, and creates always set it),
/// `primary` always, `manager` always in the RFC object form (Entra cannot read anything
/// else), and `password` never.
#[derive(Debug, Clone, Copy)]
pub struct UserJson<'a> {
    user: &'a pb::User,
    base_url: &'a str,
}

impl<'a> UserJson<'a> {
    /// Renders `user` with links under `base_url`.
    pub fn new(user: &'a pb::User, base_url: &'a str) -> Self {
        UserJson { user, base_url }
    }
}

/// Renders a user as a JSON value: the document [`UserJson`] writes.
pub fn user_to_json(u: &pb::User, base_url: &str) -> Value {
    // Only strings, booleans, maps and sequences with string keys: serialising into a
    // `Value` cannot fail.
    serde_json::to_value(UserJson::new(u, base_url)).unwrap_or_default()
}

/// A string attribute that is set and not empty.
fn text(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// Writes `key` when `v` is set and not empty.
fn put<M: SerializeMap>(m: &mut M, key: &'static str, v: &Option<String>) -> Result<(), M::Error> {
    match text(v) {
        Some(s) => m.serialize_entry(key, s),
        None => Ok(()),
    }
}

impl Serialize for UserJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let u = self.user;
        let ent = u
            .enterprise
            .as_ref()
            .filter(|e| enterprise_is_set(e))
            .map(|e| Enterprise {
                e,
                base_url: self.base_url,
            });
        let mut m = s.serialize_map(None)?;
        match ent {
            Some(_) => m.serialize_entry("schemas", &[USER_SCHEMA, ENTERPRISE_USER_SCHEMA])?,
            None => m.serialize_entry("schemas", &[USER_SCHEMA])?,
        }
        m.serialize_entry("id", &u.id)?;
        put(&mut m, "externalId", &u.external_id)?;
        m.serialize_entry("userName", &u.user_name)?;
        if let Some(n) = u.name.as_ref().filter(|n| name_is_set(n)) {
            m.serialize_entry("name", &Name(n))?;
        }
        put(&mut m, "displayName", &u.display_name)?;
        put(&mut m, "nickName", &u.nick_name)?;
        put(&mut m, "profileUrl", &u.profile_url)?;
        put(&mut m, "title", &u.title)?;
        put(&mut m, "userType", &u.user_type)?;
        put(&mut m, "preferredLanguage", &u.preferred_language)?;
        put(&mut m, "locale", &u.locale)?;
        put(&mut m, "timezone", &u.timezone)?;
        if let Some(active) = u.active {
            m.serialize_entry("active", &active)?;
        }
        for (key, values) in [
            ("emails", &u.emails),
            ("phoneNumbers", &u.phone_numbers),
            ("ims", &u.ims),
            ("photos", &u.photos),
        ] {
            if !values.is_empty() {
                m.serialize_entry(key, &multi(values))?;
            }
        }
        if !u.addresses.is_empty() {
            let addresses = Each {
                items: &u.addresses,
                wrap: Address,
            };
            m.serialize_entry("addresses", &addresses)?;
        }
        for (key, values) in [
            ("entitlements", &u.entitlements),
            ("roles", &u.roles),
            ("x509Certificates", &u.x509_certificates),
        ] {
            if !values.is_empty() {
                m.serialize_entry(key, &multi(values))?;
            }
        }
        if !u.groups.is_empty() {
            let base_url = self.base_url;
            let groups = Each {
                items: &u.groups,
                wrap: |g| GroupEntry { g, base_url },
            };
            m.serialize_entry("groups", &groups)?;
        }
        if let Some(ent) = &ent {
            m.serialize_entry(ENTERPRISE_USER_SCHEMA, ent)?;
        }
        let meta = MetaJson {
            kind: ResourceKind::User,
            meta: u.meta.as_ref(),
            base_url: self.base_url,
            id: &u.id,
        };
        m.serialize_entry("meta", &meta)?;
        m.end()
    }
}

fn name_is_set(n: &pb::Name) -> bool {
    [
        &n.formatted,
        &n.family_name,
        &n.given_name,
        &n.middle_name,
        &n.honorific_prefix,
        &n.honorific_suffix,
    ]
    .into_iter()
    .any(|v| text(v).is_some())
}

/// `name`; only written when [`name_is_set`].
struct Name<'a>(&'a pb::Name);

impl Serialize for Name<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.0;
        let mut m = s.serialize_map(None)?;
        put(&mut m, "formatted", &n.formatted)?;
        put(&mut m, "familyName", &n.family_name)?;
        put(&mut m, "givenName", &n.given_name)?;
        put(&mut m, "middleName", &n.middle_name)?;
        put(&mut m, "honorificPrefix", &n.honorific_prefix)?;
        put(&mut m, "honorificSuffix", &n.honorific_suffix)?;
        m.end()
    }
}

/// A multi-valued attribute of value/display/type/primary entries.
fn multi(values: &[pb::MultiValue]) -> impl Serialize + '_ {
    Each {
        items: values,
        wrap: MultiEntry,
    }
}

/// One value of a multi-valued attribute: value/display/type/primary.
struct MultiEntry<'a>(&'a pb::MultiValue);

impl Serialize for MultiEntry<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("value", &v.value)?;
        put(&mut m, "display", &v.display)?;
        put(&mut m, "type", &v.r#type)?;
        // Always present, so a client that sent `primary: false` reads back what it
        // wrote (scim2-tester compares the two).
        m.serialize_entry("primary", &v.primary)?;
        m.end()
    }
}

struct Address<'a>(&'a pb::Address);

impl Serialize for Address<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut m = s.serialize_map(None)?;
        put(&mut m, "formatted", &a.formatted)?;
        put(&mut m, "streetAddress", &a.street_address)?;
        put(&mut m, "locality", &a.locality)?;
        put(&mut m, "region", &a.region)?;
        put(&mut m, "postalCode", &a.postal_code)?;
        put(&mut m, "country", &a.country)?;
        put(&mut m, "type", &a.r#type)?;
        m.serialize_entry("primary", &a.primary)?;
        m.end()
    }
}

/// One of the user's groups, with its `$ref`.
struct GroupEntry<'a> {
    g: &'a pb::GroupRef,
    base_url: &'a str,
}

impl Serialize for GroupEntry<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let g = self.g;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("value", &g.value)?;
        let location = Location {
            base_url: self.base_url,
            kind: ResourceKind::Group,
            id: &g.value,
        };
        m.serialize_entry("$ref", &location)?;
        if !g.display.is_empty() {
            m.serialize_entry("display", &g.display)?;
        }
        if !g.r#type.is_empty() {
            m.serialize_entry("type", &g.r#type)?;
        }
        m.end()
    }
}

/// Whether the enterprise extension has anything to show; an empty one is left out,
/// together with its schema URN.
fn enterprise_is_set(e: &pb::EnterpriseUser) -> bool {
    [
        &e.employee_number,
        &e.cost_center,
        &e.organization,
        &e.division,
        &e.department,
    ]
    .into_iter()
    .any(|v| text(v).is_some())
        || e.manager.as_ref().is_some_and(|m| !m.value.is_empty())
}

/// The enterprise extension object; `manager` in the RFC form with its `$ref`.
struct Enterprise<'a> {
    e: &'a pb::EnterpriseUser,
    base_url: &'a str,
}

impl Serialize for Enterprise<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.e;
        let mut m = s.serialize_map(None)?;
        put(&mut m, "employeeNumber", &e.employee_number)?;
        put(&mut m, "costCenter", &e.cost_center)?;
        put(&mut m, "organization", &e.organization)?;
        put(&mut m, "division", &e.division)?;
        put(&mut m, "department", &e.department)?;
        if let Some(mgr) = e.manager.as_ref().filter(|m| !m.value.is_empty()) {
            m.serialize_entry(
                "manager",
                &Manager {
                    mgr,
                    base_url: self.base_url,
                },
            )?;
        }
        m.end()
    }
}

struct Manager<'a> {
    mgr: &'a pb::Manager,
    base_url: &'a str,
}

impl Serialize for Manager<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("value", &self.mgr.value)?;
        let location = Location {
            base_url: self.base_url,
            kind: ResourceKind::User,
            id: &self.mgr.value,
        };
        m.serialize_entry("$ref", &location)?;
        put(&mut m, "displayName", &self.mgr.display_name)?;
        m.end()
    }
}
