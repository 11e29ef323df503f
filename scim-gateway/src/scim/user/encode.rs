//! `identity.v1.User` → the canonical SCIM JSON representation.

use scim_proto::identity::v1 as pb;
use serde_json::{Map, Value, json};

use crate::scim::meta::{location, meta_json};
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, ResourceKind, USER_SCHEMA};

/// Renders a user. `base_url` is the SCIM base (e.g. `https://host/scim/v2`) used for
/// `meta.location` and every `$ref`.
///
/// `active` is present whenever it is set — always, unless a client removed it
/// explicitly (Okta skips users without it on import, and creates always set it),
/// `primary` always, `manager` always in the RFC object form (Entra cannot read anything
/// else), and `password` never.
pub fn user_to_json(u: &pb::User, base_url: &str) -> Value {
    let mut o = Map::new();
    let ent = u
        .enterprise
        .as_ref()
        .map(|e| enterprise(e, base_url))
        .filter(|e| !e.is_empty());
    let mut schemas = vec![USER_SCHEMA];
    if ent.is_some() {
        schemas.push(ENTERPRISE_USER_SCHEMA);
    }
    o.insert("schemas".into(), json!(schemas));
    o.insert("id".into(), u.id.clone().into());
    put(&mut o, "externalId", &u.external_id);
    o.insert("userName".into(), u.user_name.clone().into());
    if let Some(n) = &u.name {
        let mut m = Map::new();
        put(&mut m, "formatted", &n.formatted);
        put(&mut m, "familyName", &n.family_name);
        put(&mut m, "givenName", &n.given_name);
        put(&mut m, "middleName", &n.middle_name);
        put(&mut m, "honorificPrefix", &n.honorific_prefix);
        put(&mut m, "honorificSuffix", &n.honorific_suffix);
        if !m.is_empty() {
            o.insert("name".into(), Value::Object(m));
        }
    }
    put(&mut o, "displayName", &u.display_name);
    put(&mut o, "nickName", &u.nick_name);
    put(&mut o, "profileUrl", &u.profile_url);
    put(&mut o, "title", &u.title);
    put(&mut o, "userType", &u.user_type);
    put(&mut o, "preferredLanguage", &u.preferred_language);
    put(&mut o, "locale", &u.locale);
    put(&mut o, "timezone", &u.timezone);
    if let Some(active) = u.active {
        o.insert("active".into(), active.into());
    }
    put_multi(&mut o, "emails", &u.emails);
    put_multi(&mut o, "phoneNumbers", &u.phone_numbers);
    put_multi(&mut o, "ims", &u.ims);
    put_multi(&mut o, "photos", &u.photos);
    if !u.addresses.is_empty() {
        let list = u.addresses.iter().map(address).collect();
        o.insert("addresses".into(), Value::Array(list));
    }
    put_multi(&mut o, "entitlements", &u.entitlements);
    put_multi(&mut o, "roles", &u.roles);
    put_multi(&mut o, "x509Certificates", &u.x509_certificates);
    if !u.groups.is_empty() {
        let list = u
            .groups
            .iter()
            .map(|g| {
                let mut m = Map::new();
                m.insert("value".into(), g.value.clone().into());
                m.insert(
                    "$ref".into(),
                    location(base_url, ResourceKind::Group, &g.value).into(),
                );
                if !g.display.is_empty() {
                    m.insert("display".into(), g.display.clone().into());
                }
                if !g.r#type.is_empty() {
                    m.insert("type".into(), g.r#type.clone().into());
                }
                Value::Object(m)
            })
            .collect();
        o.insert("groups".into(), Value::Array(list));
    }
    if let Some(e) = ent {
        o.insert(ENTERPRISE_USER_SCHEMA.into(), Value::Object(e));
    }
    o.insert(
        "meta".into(),
        meta_json(ResourceKind::User, u.meta.as_ref(), base_url, &u.id),
    );
    Value::Object(o)
}

fn put(o: &mut Map<String, Value>, key: &str, v: &Option<String>) {
    if let Some(s) = v.as_deref().filter(|s| !s.is_empty()) {
        o.insert(key.into(), s.into());
    }
}

fn put_multi(o: &mut Map<String, Value>, key: &str, values: &[pb::MultiValue]) {
    if values.is_empty() {
        return;
    }
    let list = values
        .iter()
        .map(|v| {
            let mut m = Map::new();
            m.insert("value".into(), v.value.clone().into());
            put(&mut m, "display", &v.display);
            put(&mut m, "type", &v.r#type);
            // Always present, so a client that sent `primary: false` reads back what it
            // wrote (scim2-tester compares the two).
            m.insert("primary".into(), v.primary.into());
            Value::Object(m)
        })
        .collect();
    o.insert(key.into(), Value::Array(list));
}

fn address(a: &pb::Address) -> Value {
    let mut m = Map::new();
    put(&mut m, "formatted", &a.formatted);
    put(&mut m, "streetAddress", &a.street_address);
    put(&mut m, "locality", &a.locality);
    put(&mut m, "region", &a.region);
    put(&mut m, "postalCode", &a.postal_code);
    put(&mut m, "country", &a.country);
    put(&mut m, "type", &a.r#type);
    m.insert("primary".into(), a.primary.into());
    Value::Object(m)
}

/// The enterprise extension object; `manager` in the RFC form with its `$ref`.
fn enterprise(e: &pb::EnterpriseUser, base_url: &str) -> Map<String, Value> {
    let mut m = Map::new();
    put(&mut m, "employeeNumber", &e.employee_number);
    put(&mut m, "costCenter", &e.cost_center);
    put(&mut m, "organization", &e.organization);
    put(&mut m, "division", &e.division);
    put(&mut m, "department", &e.department);
    if let Some(mgr) = e.manager.as_ref().filter(|m| !m.value.is_empty()) {
        let mut mo = Map::new();
        mo.insert("value".into(), mgr.value.clone().into());
        mo.insert(
            "$ref".into(),
            location(base_url, ResourceKind::User, &mgr.value).into(),
        );
        put(&mut mo, "displayName", &mgr.display_name);
        m.insert("manager".into(), Value::Object(mo));
    }
    m
}
