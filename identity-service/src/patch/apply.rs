//! One checked change applied to a stored user.

use scim_model::ScimType;
use scim_model::stored::{Container, EnterpriseField, Field, NameField, Stored};
use scim_proto::identity::v1 as pb;

use super::elements::{self, Element, Scalar};
use super::{Change, Op, Value, refused};
use crate::error::IdentityError;
use crate::filter::eval;

/// Applies `c` to `user`.
pub(super) fn change(user: &mut pb::User, c: &Change) -> Result<(), IdentityError> {
    match c.target {
        Stored::Values(container) | Stored::Each(container, _) => {
            let field = match c.target {
                Stored::Each(_, f) => Some(f),
                _ => None,
            };
            match container {
                Container::Addresses => multi(&mut user.addresses, container, field, c),
                other => match values_of(user, other) {
                    Some(list) => multi(list, container, field, c),
                    None => Ok(()),
                },
            }
        }
        Stored::Password => Ok(()),
        Stored::Active => {
            user.active = match (&c.op, &c.value) {
                (Op::Remove, _) | (_, Value::Clear) => None,
                (_, Value::Bool(b)) => Some(*b),
                _ => user.active,
            };
            Ok(())
        }
        Stored::Name => {
            user.name = None;
            Ok(())
        }
        Stored::Enterprise => {
            user.enterprise = None;
            Ok(())
        }
        Stored::UserName => {
            // Required: a cleared userName stays empty and fails the check after.
            user.user_name = scalar(c).unwrap_or_default();
            Ok(())
        }
        Stored::EnterpriseAttr(EnterpriseField::ManagerValue) => {
            let e = user.enterprise.get_or_insert_with(Default::default);
            e.manager.get_or_insert_with(Default::default).value = scalar(c).unwrap_or_default();
            Ok(())
        }
        Stored::EnterpriseAttr(EnterpriseField::Manager) => {
            if let Some(e) = &mut user.enterprise {
                e.manager = None;
            }
            Ok(())
        }
        target => {
            let value = scalar(c);
            let Some(slot) = text_slot(user, target) else {
                return Err(refused(
                    ScimType::Mutability,
                    format!("\"{}\" cannot be changed", c.label),
                ));
            };
            *slot = value;
            Ok(())
        }
    }
}

/// Drops values a PATCH left without their `value` (an address without any field), as
/// the SCIM decoder drops them from a request: they could not be addressed again.
pub(super) fn drop_empty_values(user: &mut pb::User) {
    for list in [
        &mut user.emails,
        &mut user.phone_numbers,
        &mut user.ims,
        &mut user.photos,
        &mut user.entitlements,
        &mut user.roles,
        &mut user.x509_certificates,
    ] {
        list.retain(|v| !v.value.is_empty());
    }
    user.addresses.retain(|a| {
        let empty = pb::Address {
            r#type: a.r#type.clone(),
            primary: a.primary,
            ..Default::default()
        };
        *a != empty
    });
}

/// The string a change leaves in a single-valued attribute (`None`: cleared).
fn scalar(c: &Change) -> Option<String> {
    match (&c.op, &c.value) {
        (Op::Remove, _) => None,
        (_, Value::Str(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The place of a single-valued string attribute, created when it is in a complex
/// attribute that is absent (`normalise_user` drops it again if it stays empty).
fn text_slot(user: &mut pb::User, target: Stored) -> Option<&mut Option<String>> {
    Some(match target {
        Stored::ExternalId => &mut user.external_id,
        Stored::DisplayName => &mut user.display_name,
        Stored::NickName => &mut user.nick_name,
        Stored::ProfileUrl => &mut user.profile_url,
        Stored::Title => &mut user.title,
        Stored::UserType => &mut user.user_type,
        Stored::PreferredLanguage => &mut user.preferred_language,
        Stored::Locale => &mut user.locale,
        Stored::Timezone => &mut user.timezone,
        Stored::NamePart(f) => {
            let n = user.name.get_or_insert_with(Default::default);
            match f {
                NameField::Formatted => &mut n.formatted,
                NameField::FamilyName => &mut n.family_name,
                NameField::GivenName => &mut n.given_name,
                NameField::MiddleName => &mut n.middle_name,
                NameField::HonorificPrefix => &mut n.honorific_prefix,
                NameField::HonorificSuffix => &mut n.honorific_suffix,
            }
        }
        Stored::EnterpriseAttr(f) => {
            let e = user.enterprise.get_or_insert_with(Default::default);
            match f {
                EnterpriseField::EmployeeNumber => &mut e.employee_number,
                EnterpriseField::CostCenter => &mut e.cost_center,
                EnterpriseField::Organization => &mut e.organization,
                EnterpriseField::Division => &mut e.division,
                EnterpriseField::Department => &mut e.department,
                EnterpriseField::ManagerDisplayName => {
                    &mut e.manager.get_or_insert_with(Default::default).display_name
                }
                EnterpriseField::ManagerValue | EnterpriseField::Manager => return None,
            }
        }
        _ => return None,
    })
}

/// The list of a multi-valued attribute stored as `pb::MultiValue`s.
fn values_of(user: &mut pb::User, c: Container) -> Option<&mut Vec<pb::MultiValue>> {
    Some(match c {
        Container::Emails => &mut user.emails,
        Container::PhoneNumbers => &mut user.phone_numbers,
        Container::Ims => &mut user.ims,
        Container::Photos => &mut user.photos,
        Container::Entitlements => &mut user.entitlements,
        Container::Roles => &mut user.roles,
        Container::X509Certificates => &mut user.x509_certificates,
        Container::Addresses | Container::Groups | Container::Members => return None,
    })
}

/// A change of a multi-valued attribute: the whole list (`field` none) or one
/// sub-attribute of its values, all of them or those the filter matches.
fn multi<E: Element>(
    list: &mut Vec<E>,
    c: Container,
    field: Option<Field>,
    ch: &Change,
) -> Result<(), IdentityError> {
    if ch.filter.is_some() {
        return filtered(list, field, ch);
    }
    match (ch.op, field, &ch.value) {
        (Op::Remove, None, Value::Elements(gone)) if !gone.is_empty() => {
            // Entra's `remove` with a value list removes just those values.
            let gone: Vec<E> = gone.iter().map(elements::from_patch).collect();
            let exact = elements::value_case_exact(c);
            list.retain(|e| !gone.iter().any(|g| elements::same(exact, e, g)));
        }
        (Op::Remove, None, _) => list.clear(),
        (Op::Remove, Some(f), _) => {
            for e in list.iter_mut() {
                set(e, f, None, ch)?;
            }
        }
        (op, None, value) => {
            if op == Op::Replace {
                list.clear();
            }
            if let Value::Elements(new) = value {
                append(list, c, new);
            }
        }
        (_, Some(f), value) => {
            let v = sub_value(value);
            if list.is_empty() && v.is_some() {
                list.push(E::default());
            }
            for e in list.iter_mut() {
                set(e, f, v.clone(), ch)?;
            }
            let last = list.len().saturating_sub(1);
            elements::single_primary(list, last);
        }
    }
    Ok(())
}

/// Appends values, merging any whose `value` is already present.
fn append<E: Element>(list: &mut Vec<E>, c: Container, new: &[pb::PatchElement]) {
    let exact = elements::value_case_exact(c);
    for p in new {
        let e: E = elements::from_patch(p);
        let at = match list.iter().position(|old| elements::same(exact, old, &e)) {
            Some(i) => {
                list[i].merge(p);
                i
            }
            None => {
                list.push(e);
                list.len() - 1
            }
        };
        elements::single_primary(list, at);
    }
}

/// A change through a value filter (`emails[type eq "work"]…`).
fn filtered<E: Element>(
    list: &mut Vec<E>,
    field: Option<Field>,
    ch: &Change,
) -> Result<(), IdentityError> {
    let Some(node) = &ch.filter else {
        return Ok(());
    };
    let hits: Vec<bool> = list
        .iter()
        .map(|e| eval::matches(node, &e.as_elem()))
        .collect();
    let clear = matches!(ch.value, Value::Clear) || ch.op == Op::Remove;
    if !hits.contains(&true) {
        if clear {
            return Ok(());
        }
        // Entra replaces `emails[type eq "work"].value` on users with no work e-mail
        // yet; the RFC's noTarget would fail its whole sync, so the value is created.
        let seed = ch.seed.as_ref().ok_or_else(|| {
            refused(
                ScimType::NoTarget,
                format!("no value matches the filter of \"{}\"", ch.label),
            )
        })?;
        let mut e: E = elements::from_patch(seed);
        fill(&mut e, field, ch)?;
        list.push(e);
        let last = list.len() - 1;
        elements::single_primary(list, last);
        return Ok(());
    }
    if field.is_none() && clear {
        let mut i = 0;
        list.retain(|_| {
            i += 1;
            !hits[i - 1]
        });
        return Ok(());
    }
    let mut last = 0;
    for (i, e) in list.iter_mut().enumerate().filter(|(i, _)| hits[*i]) {
        fill(e, field, ch)?;
        last = i;
    }
    elements::single_primary(list, last);
    Ok(())
}

/// Writes a filtered change into one selected value: a sub-attribute, or the whole
/// value (`replace` keeps only the filter's identifying `eq` values; `add` merges).
fn fill<E: Element>(e: &mut E, field: Option<Field>, ch: &Change) -> Result<(), IdentityError> {
    if let Some(f) = field {
        let v = if ch.op == Op::Remove {
            None
        } else {
            sub_value(&ch.value)
        };
        return set(e, f, v, ch);
    }
    let Value::Elements(update) = &ch.value else {
        return Ok(());
    };
    if ch.op == Op::Replace {
        *e = ch
            .seed
            .as_ref()
            .map(elements::from_patch)
            .unwrap_or_default();
    }
    for u in update {
        e.merge(u);
    }
    Ok(())
}

fn sub_value(v: &Value) -> Option<Scalar> {
    match v {
        Value::Str(s) if s.is_empty() => None,
        Value::Str(s) => Some(Scalar::Str(s.clone())),
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        _ => None,
    }
}

fn set<E: Element>(
    e: &mut E,
    f: Field,
    v: Option<Scalar>,
    ch: &Change,
) -> Result<(), IdentityError> {
    if e.set(f, v) {
        Ok(())
    } else {
        Err(refused(
            ScimType::InvalidValue,
            format!("\"{}\" has the wrong type", ch.label),
        ))
    }
}
