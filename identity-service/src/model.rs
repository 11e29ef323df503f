//! The stored form of users and groups, input checks, and conversions to `identity.v1`.
//!
//! A user row keeps the indexed attributes in columns and everything else in
//! `attributes`: the protobuf encoding of the user with `id`, `meta`, `groups`,
//! `password` and `active` cleared (those live in columns or other tables). Decoding it
//! is cheap and carries every attribute without a column per field.
//!
//! Bounds (each answered with INVALID_ARGUMENT): [`MAX_NAME_BYTES`] for names and ids,
//! [`MAX_VALUES`] per multi-valued attribute, [`MAX_USER_BYTES`] for a whole user.

use chrono::{NaiveDateTime, Utc};
use prost::Message as _;
use scim_proto::identity::v1 as pb;

use crate::db::groups::GroupRow;
use crate::db::users::UserRow;
use crate::error::IdentityError;

pub use scim_model::limits::{MAX_NAME_BYTES, MAX_USER_BYTES, MAX_VALUES};

/// The current time as stored: UTC without an offset.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// A stored UTC time as a protobuf timestamp.
pub fn timestamp(t: NaiveDateTime) -> prost_types::Timestamp {
    let utc = t.and_utc();
    prost_types::Timestamp {
        seconds: utc.timestamp(),
        nanos: utc.timestamp_subsec_nanos() as i32,
    }
}

/// The normalised form of a case-insensitive value (RFC 7643 caseExact=false).
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

fn meta(created: NaiveDateTime, updated: NaiveDateTime, version: i64) -> pb::Meta {
    pb::Meta {
        created: Some(timestamp(created)),
        last_modified: Some(timestamp(updated)),
        version,
    }
}

fn empty_to_none(value: &mut Option<String>) {
    if value.as_deref().is_some_and(str::is_empty) {
        *value = None;
    }
}

fn check_name(field: &str, value: &str) -> Result<(), IdentityError> {
    if value.trim().is_empty() {
        return Err(IdentityError::invalid(format!("{field} is required")));
    }
    check_len(field, value)
}

fn check_len(field: &str, value: &str) -> Result<(), IdentityError> {
    if value.len() > MAX_NAME_BYTES {
        return Err(IdentityError::invalid(format!(
            "{field} is longer than {MAX_NAME_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Checks a user from a request and brings it into stored shape: server-maintained
/// fields cleared, empty strings and empty sub-messages treated as absent.
/// The caller must have taken `password` out already.
pub fn normalise_user(user: &mut pb::User) -> Result<(), IdentityError> {
    check_name("user.user_name", &user.user_name)?;
    user.id.clear();
    user.meta = None;
    user.groups.clear();
    user.password = None;
    for field in [
        &mut user.external_id,
        &mut user.display_name,
        &mut user.nick_name,
        &mut user.profile_url,
        &mut user.title,
        &mut user.user_type,
        &mut user.preferred_language,
        &mut user.locale,
        &mut user.timezone,
    ] {
        empty_to_none(field);
    }
    if let Some(id) = &user.external_id {
        check_len("user.external_id", id)?;
    }
    if let Some(name) = &mut user.name {
        for f in [
            &mut name.formatted,
            &mut name.family_name,
            &mut name.given_name,
            &mut name.middle_name,
            &mut name.honorific_prefix,
            &mut name.honorific_suffix,
        ] {
            empty_to_none(f);
        }
        if *name == pb::Name::default() {
            user.name = None;
        }
    }
    if let Some(e) = &mut user.enterprise {
        for f in [
            &mut e.employee_number,
            &mut e.cost_center,
            &mut e.organization,
            &mut e.division,
            &mut e.department,
        ] {
            empty_to_none(f);
        }
        if let Some(m) = &mut e.manager {
            empty_to_none(&mut m.display_name);
            if m.value.is_empty() && m.display_name.is_none() {
                e.manager = None;
            }
        }
        if *e == pb::EnterpriseUser::default() {
            user.enterprise = None;
        }
    }
    let counts = [
        ("emails", user.emails.len()),
        ("phone_numbers", user.phone_numbers.len()),
        ("ims", user.ims.len()),
        ("photos", user.photos.len()),
        ("addresses", user.addresses.len()),
        ("entitlements", user.entitlements.len()),
        ("roles", user.roles.len()),
        ("x509_certificates", user.x509_certificates.len()),
    ];
    if let Some((field, _)) = counts.iter().find(|(_, n)| *n > MAX_VALUES) {
        return Err(IdentityError::invalid(format!(
            "user.{field} has more than {MAX_VALUES} values"
        )));
    }
    if user.encoded_len() > MAX_USER_BYTES {
        return Err(IdentityError::invalid(format!(
            "user is larger than {MAX_USER_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The column values of a normalised user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserValues {
    /// `userName` as given.
    pub user_name: String,
    /// `userName` folded.
    pub user_name_norm: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `displayName` as given.
    pub display_name: Option<String>,
    /// `displayName` folded.
    pub display_name_norm: Option<String>,
    /// `active`; `None` when unset.
    pub active: Option<bool>,
    /// The encoded attributes (see the module doc).
    pub attributes: Vec<u8>,
    /// The e-mail the user sorts by, folded ([`sort_email`]).
    pub sort_email: Option<String>,
}

impl UserValues {
    /// Column values for `user` (normalised) with the given `active`.
    pub fn new(user: &pb::User, active: Option<bool>) -> Self {
        let mut stored = user.clone();
        stored.active = None;
        UserValues {
            user_name: user.user_name.clone(),
            user_name_norm: fold(&user.user_name),
            external_id: user.external_id.clone(),
            display_name: user.display_name.clone(),
            display_name_norm: user.display_name.as_deref().map(fold),
            active,
            attributes: stored.encode_to_vec(),
            sort_email: sort_email(&user.emails),
        }
    }
}

/// The e-mail a user sorts by (RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its
/// primary value, else its first), folded as `emails.value` compares.
pub fn sort_email(emails: &[pb::MultiValue]) -> Option<String> {
    let with_value = || emails.iter().filter(|e| !e.value.is_empty());
    with_value()
        .find(|e| e.primary)
        .or_else(|| with_value().next())
        .map(|e| fold(&e.value))
}

/// The stored attributes of a row, without server-maintained fields.
pub fn stored_user(row: &UserRow) -> Result<pb::User, IdentityError> {
    pb::User::decode(row.attributes.as_slice())
        .map_err(|e| IdentityError::Internal(format!("stored user attributes are corrupt: {e}")))
}

/// A row as the API returns it (without `groups`, which come from memberships).
pub fn user_from_row(row: &UserRow) -> Result<pb::User, IdentityError> {
    Ok(user_as_stored_in(stored_user(row)?, row))
}

/// `user`, the attributes `row` stores (decoded, or just written), with the row's
/// columns: what the API returns, without `groups`. A write answers with it rather than
/// decoding what it just encoded.
pub fn user_as_stored_in(mut user: pb::User, row: &UserRow) -> pb::User {
    user.id = row.id.clone();
    user.active = row.active;
    user.password = None;
    user.groups.clear();
    user.meta = Some(meta(row.created_at, row.updated_at, row.version));
    user
}

/// Checks a group from a request and brings it into stored shape.
pub fn normalise_group(group: &mut pb::Group) -> Result<(), IdentityError> {
    check_name("group.display_name", &group.display_name)?;
    empty_to_none(&mut group.external_id);
    if let Some(id) = &group.external_id {
        check_len("group.external_id", id)?;
    }
    Ok(())
}

/// A row as the API returns it, without members.
pub fn group_from_row(row: &GroupRow) -> pb::Group {
    pb::Group {
        id: row.id.clone(),
        external_id: row.external_id.clone(),
        display_name: row.display_name.clone(),
        members: Vec::new(),
        member_count: row.member_count,
        meta: Some(meta(row.created_at, row.updated_at, row.version)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sub_messages_and_strings_become_absent() {
        let mut u = pb::User {
            user_name: "a".into(),
            nick_name: Some(String::new()),
            name: Some(pb::Name {
                given_name: Some(String::new()),
                ..Default::default()
            }),
            enterprise: Some(pb::EnterpriseUser {
                manager: Some(pb::Manager::default()),
                ..Default::default()
            }),
            ..Default::default()
        };
        normalise_user(&mut u).unwrap();
        assert_eq!(u.nick_name, None);
        assert_eq!(u.name, None);
        assert_eq!(u.enterprise, None);
    }

    #[test]
    fn user_name_is_required_and_bounded() {
        let mut u = pb::User {
            user_name: "  ".into(),
            ..Default::default()
        };
        assert!(normalise_user(&mut u).is_err());
        u.user_name = "x".repeat(MAX_NAME_BYTES + 1);
        assert!(normalise_user(&mut u).is_err());
    }

    #[test]
    fn too_many_values_are_refused() {
        let mut u = pb::User {
            user_name: "a".into(),
            emails: vec![pb::MultiValue::default(); MAX_VALUES + 1],
            ..Default::default()
        };
        let err = normalise_user(&mut u).unwrap_err();
        assert!(err.to_string().contains("emails"));
    }

    #[test]
    fn timestamps_keep_sub_second_precision() {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 123_456_000)
            .unwrap()
            .naive_utc();
        let ts = timestamp(t);
        assert_eq!((ts.seconds, ts.nanos), (1_700_000_000, 123_456_000));
    }
}
