//! SCIM JSON → `identity.v1.User`, for POST and PUT bodies and PATCH results.

use scim_proto::identity::v1 as pb;
use serde_json::Value;

use super::MAX_VALUES;
use crate::error::ScimError;
use crate::scim::json::{Fields, get_ci};
use scim_model::ENTERPRISE_USER_SCHEMA;

/// Decodes a User body.
///
/// `id`, `meta`, `groups` and `schemas` are ignored (they are read-only or
/// informational; the caller checks `id` against the URL). `userName` is required.
/// `password` is copied through; the directory hashes it.
pub fn user_from_json(v: &Value) -> Result<pb::User, ScimError> {
    if !v.is_object() {
        return Err(ScimError::invalid_syntax("the body must be a User object"));
    }
    let f = Fields::of(v, "")?;
    let user_name = f
        .string("userName")?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            ScimError::invalid_value("\"userName\" is required and must not be empty")
        })?;
    Ok(pb::User {
        id: String::new(),
        external_id: f.string("externalId")?,
        user_name,
        name: name(&f)?,
        display_name: f.string("displayName")?,
        nick_name: f.string("nickName")?,
        profile_url: f.string("profileUrl")?,
        title: f.string("title")?,
        user_type: f.string("userType")?,
        preferred_language: f.string("preferredLanguage")?,
        locale: f.string("locale")?,
        timezone: f.string("timezone")?,
        active: f.boolean("active")?,
        password: f.string("password")?,
        emails: multi(&f, "emails")?,
        phone_numbers: multi(&f, "phoneNumbers")?,
        ims: multi(&f, "ims")?,
        photos: multi(&f, "photos")?,
        addresses: addresses(&f)?,
        entitlements: multi(&f, "entitlements")?,
        roles: multi(&f, "roles")?,
        x509_certificates: multi(&f, "x509Certificates")?,
        enterprise: enterprise(&f)?,
        groups: Vec::new(),
        meta: None,
    })
}

fn name(f: &Fields<'_>) -> Result<Option<pb::Name>, ScimError> {
    let Some(v) = f.get("name") else {
        return Ok(None);
    };
    let n = Fields::of(v, "name.")?;
    let name = pb::Name {
        formatted: n.string("formatted")?,
        family_name: n.string("familyName")?,
        given_name: n.string("givenName")?,
        middle_name: n.string("middleName")?,
        honorific_prefix: n.string("honorificPrefix")?,
        honorific_suffix: n.string("honorificSuffix")?,
    };
    Ok(Some(name).filter(|n| *n != pb::Name::default()))
}

/// A plain multi-valued attribute. Elements without a `value` carry nothing the
/// directory can store and are dropped (identity-service's PATCH drops them the same
/// way).
fn multi(f: &Fields<'_>, attr: &str) -> Result<Vec<pb::MultiValue>, ScimError> {
    let mut out = Vec::new();
    for item in f.list(attr, MAX_VALUES)? {
        let e = Fields::of(item, format!("{attr}."))?;
        let Some(value) = e.string("value")? else {
            continue;
        };
        out.push(pb::MultiValue {
            value,
            display: e.string("display")?,
            r#type: e.string("type")?,
            primary: e.boolean("primary")?.unwrap_or(false),
        });
    }
    Ok(out)
}

fn addresses(f: &Fields<'_>) -> Result<Vec<pb::Address>, ScimError> {
    let mut out = Vec::new();
    for item in f.list("addresses", MAX_VALUES)? {
        let e = Fields::of(item, "addresses.")?;
        let a = pb::Address {
            formatted: e.string("formatted")?,
            street_address: e.string("streetAddress")?,
            locality: e.string("locality")?,
            region: e.string("region")?,
            postal_code: e.string("postalCode")?,
            country: e.string("country")?,
            r#type: e.string("type")?,
            primary: e.boolean("primary")?.unwrap_or(false),
        };
        let empty = a.formatted.is_none()
            && a.street_address.is_none()
            && a.locality.is_none()
            && a.region.is_none()
            && a.postal_code.is_none()
            && a.country.is_none();
        if !empty {
            out.push(a);
        }
    }
    Ok(out)
}

fn enterprise(f: &Fields<'_>) -> Result<Option<pb::EnterpriseUser>, ScimError> {
    let Some((_, v)) = get_ci(f.object(), ENTERPRISE_USER_SCHEMA) else {
        return Ok(None);
    };
    if v.is_null() {
        return Ok(None);
    }
    let e = Fields::of(v, format!("{ENTERPRISE_USER_SCHEMA}:"))?;
    let ent = pb::EnterpriseUser {
        employee_number: e.string("employeeNumber")?,
        cost_center: e.string("costCenter")?,
        organization: e.string("organization")?,
        division: e.string("division")?,
        department: e.string("department")?,
        manager: manager(e.get("manager"))?,
    };
    Ok(Some(ent).filter(|e| *e != pb::EnterpriseUser::default()))
}

/// `manager` as the RFC object `{"value", "displayName", "$ref"}`, as a bare id string
/// (Entra), or as a one-element list of objects (Entra's legacy PATCH).
pub(crate) fn manager(v: Option<&Value>) -> Result<Option<pb::Manager>, ScimError> {
    const NAME: &str = "manager";
    let v = match v {
        Some(Value::Array(items)) if items.len() <= 1 => items.first(),
        other => other,
    };
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let holder = serde_json::json!({ "value": s });
            manager(Some(&holder))
        }
        Some(obj @ Value::Object(_)) => {
            let m = Fields::of(obj, format!("{ENTERPRISE_USER_SCHEMA}:{NAME}."))?;
            Ok(m.string("value")?.map(|value| pb::Manager {
                value,
                display_name: m.string("displayName").ok().flatten(),
            }))
        }
        Some(_) => Err(ScimError::invalid_value(format!(
            "\"{ENTERPRISE_USER_SCHEMA}:{NAME}\" must be an id or an object with \"value\""
        ))),
    }
}
