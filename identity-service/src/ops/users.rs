//! User operations, each the body of one transaction: uniqueness, versions, PUT and
//! PATCH semantics. Inputs arrive checked and with passwords already hashed.

use scim_proto::identity::v1 as pb;
use scim_storage::Conn;

use crate::db::counts::{self, Change, Kind};
use crate::db::memberships;
use crate::db::users::{self, PasswordChange, UserRow};
use crate::error::IdentityError;
use crate::mask::Mask;
use crate::model::{self, UserValues, fold};
use crate::patch::UserPatch;

const USER: &str = "user";

/// How a write derives the new user from the stored one.
#[derive(Debug)]
pub enum Edit {
    /// Replace every attribute (a full PUT).
    Replace {
        /// The new attributes, normalised.
        user: pb::User,
        /// Keep the stored `active` when `user.active` is unset.
        keep_active_if_unset: bool,
    },
    /// Apply SCIM PATCH operations to the stored user.
    Patch(UserPatch),
    /// Change the fields a mask names.
    Update {
        /// Where the new values come from.
        user: pb::User,
        /// Which fields.
        mask: Mask,
    },
}

fn find(conn: &mut Conn<'_>, tenant: &str, id: &str) -> Result<UserRow, IdentityError> {
    users::find(conn, tenant, id)?.ok_or(IdentityError::NotFound(USER))
}

/// The user, locked for the rest of the write (see [`users::find_for_update`]).
fn find_to_change(conn: &mut Conn<'_>, tenant: &str, id: &str) -> Result<UserRow, IdentityError> {
    users::find_for_update(conn, tenant, id)?.ok_or(IdentityError::NotFound(USER))
}

fn with_groups(
    conn: &mut Conn<'_>,
    tenant: &str,
    row: &UserRow,
) -> Result<pb::User, IdentityError> {
    let mut user = model::user_from_row(row)?;
    user.groups = memberships::groups_of_one(conn, tenant, &row.id)?;
    Ok(user)
}

fn taken() -> IdentityError {
    IdentityError::AlreadyExists {
        attribute: "userName",
    }
}

/// Creates a user from a normalised `user`.
pub fn create(
    conn: &mut Conn<'_>,
    tenant: &str,
    user: &pb::User,
    password_hash: Option<&str>,
) -> Result<pb::User, IdentityError> {
    // Unset on create means active.
    let values = UserValues::new(user, Some(user.active.unwrap_or(true)));
    if users::user_name_taken(conn, tenant, &values.user_name_norm, None)? {
        return Err(taken());
    }
    // Version 7 (time-ordered): new ids land at the end of the id index instead of on a
    // random page of it, so a group commit of many creates writes few index pages.
    let id = uuid::Uuid::now_v7().to_string();
    let row = users::insert(
        conn,
        tenant,
        &id,
        &values,
        &user.emails,
        password_hash,
        model::now(),
    )?;
    counts::record(conn, tenant, Kind::Users, Change::Created)?;
    model::user_from_row(&row)
}

/// One user with its groups.
pub fn get(conn: &mut Conn<'_>, tenant: &str, id: &str) -> Result<pb::User, IdentityError> {
    let row = find(conn, tenant, id)?;
    with_groups(conn, tenant, &row)
}

/// Replaces or updates a user. A write that changes nothing keeps the version.
pub fn modify(
    conn: &mut Conn<'_>,
    tenant: &str,
    id: &str,
    expected_version: i64,
    edit: &Edit,
    password: &PasswordChange,
) -> Result<pb::User, IdentityError> {
    let row = find_to_change(conn, tenant, id)?;
    IdentityError::check_version(expected_version, row.version)?;
    // The stored user is decoded once: PATCH and masks start from it, the e-mail check
    // compares with it, and an unchanged write answers with it.
    let stored = model::stored_user(&row)?;
    let (mut next, active) = match edit {
        Edit::Replace {
            user,
            keep_active_if_unset,
        } => {
            let active = match (user.active, keep_active_if_unset) {
                (Some(a), _) => Some(a),
                (None, true) => row.active,
                (None, false) => Some(true),
            };
            (user.clone(), active)
        }
        Edit::Patch(patch) => {
            let mut current = stored.clone();
            current.active = row.active;
            patch.apply(&mut current)?;
            let active = current.active;
            (current, active)
        }
        Edit::Update { user, mask } => {
            let mut current = stored.clone();
            current.active = row.active;
            mask.apply(&mut current, user);
            // A cleared `active` stays unset (a SCIM `remove`), so it reads back absent.
            let active = current.active;
            (current, active)
        }
    };
    model::normalise_user(&mut next)?;
    let values = UserValues::new(&next, active);
    if values.user_name_norm != fold(&row.user_name)
        && users::user_name_taken(conn, tenant, &values.user_name_norm, Some(id))?
    {
        return Err(taken());
    }
    if values.attributes == row.attributes
        && values.active == row.active
        && *password == PasswordChange::Keep
    {
        return answer(conn, tenant, stored, &row);
    }
    let emails_changed = stored.emails != next.emails;
    let updated = users::update(
        conn,
        &row,
        &values,
        emails_changed.then_some(next.emails.as_slice()),
        password,
        model::now(),
    )?;
    counts::record(conn, tenant, Kind::Users, Change::Changed)?;
    answer(conn, tenant, next, &updated)
}

/// `user` as stored in `row`, with its groups: what a write answers.
fn answer(
    conn: &mut Conn<'_>,
    tenant: &str,
    user: pb::User,
    row: &UserRow,
) -> Result<pb::User, IdentityError> {
    let mut user = model::user_as_stored_in(user, row);
    user.groups = memberships::groups_of_one(conn, tenant, &row.id)?;
    Ok(user)
}

/// Deletes a user and its memberships.
pub fn delete(
    conn: &mut Conn<'_>,
    tenant: &str,
    id: &str,
    expected_version: i64,
) -> Result<(), IdentityError> {
    let row = find_to_change(conn, tenant, id)?;
    IdentityError::check_version(expected_version, row.version)?;
    users::delete(conn, &row, model::now())?;
    counts::record(conn, tenant, Kind::Users, Change::Deleted)?;
    Ok(())
}
