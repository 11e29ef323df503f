//! PATCH for groups, translated into an identity.v1 `UpdateGroup` without reading the
//! group.

use std::collections::HashSet;

use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::filter::Kind;
use scim_proto::identity::v1::filter_value::Kind as ValueKind;
use scim_proto::identity::v1::member_change::Kind as Change;
use serde_json::Value;

use super::path::{PatchPath, parse_path};
use super::{PatchKind, PatchOp};
use crate::error::ScimError;
use crate::scim::group::{MAX_MEMBERS_PER_REQUEST, members_from_json, too_many_members};
use crate::scim::user::MAX_STRING_BYTES;
use scim_model::ResourceKind;

/// What a group PATCH changes, ready for `UpdateGroupRequest`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupPatch {
    /// New display name.
    pub display_name: Option<String>,
    /// New external id: `Some(None)` clears it.
    pub external_id: Option<Option<String>>,
    /// Member changes, in the order of the operations.
    pub member_changes: Vec<pb::MemberChange>,
    /// Whether any operation addressed `members`.
    pub touches_members: bool,
}

/// Translates group PATCH operations. `group_id` is the id from the URL; a path-less
/// value may repeat it (Okta does) but not change it.
///
/// Supported: `add`/`replace` of `members` (a list; `[]` with replace empties the
/// group), `remove` of `members[value eq "…"]` (or several joined by `or`), `remove` of
/// `members` with a value list (Entra) or without a value (everything), `displayName`
/// and `externalId`, and path-less `add`/`replace` of an object of those attributes.
pub fn group_patch(ops: &[PatchOp], group_id: &str) -> Result<GroupPatch, ScimError> {
    let mut out = GroupPatch::default();
    for op in ops {
        match &op.path {
            None if op.op == PatchKind::Remove => {
                return Err(ScimError::no_target("\"remove\" needs a \"path\""));
            }
            None => {
                let Some(Value::Object(values)) = &op.value else {
                    return Err(ScimError::invalid_value(
                        "an operation without \"path\" needs an object \"value\"",
                    ));
                };
                for (key, v) in values {
                    apply(&mut out, op.op, key, Some(v), group_id)?;
                }
            }
            Some(path) => apply(&mut out, op.op, path, op.value.as_ref(), group_id)?,
        }
    }
    let named: usize = out.member_changes.iter().map(count).sum();
    if named > MAX_MEMBERS_PER_REQUEST {
        return Err(too_many_members());
    }
    Ok(out)
}

fn count(c: &pb::MemberChange) -> usize {
    match &c.kind {
        Some(Change::Add(l)) | Some(Change::Replace(l)) => l.members.len(),
        Some(Change::Remove(v)) => v.values.len(),
        _ => 0,
    }
}

fn read_only(name: &str) -> ScimError {
    ScimError::mutability(format!("\"{name}\" is read-only"))
}

fn apply(
    out: &mut GroupPatch,
    kind: PatchKind,
    raw: &str,
    value: Option<&Value>,
    group_id: &str,
) -> Result<(), ScimError> {
    if raw.eq_ignore_ascii_case("schemas") {
        return Err(read_only("schemas"));
    }
    let p = parse_path(ResourceKind::Group, raw)?;
    let simple = p.filter.is_none() && p.sub.is_none();
    match p.attr.name {
        "id" => match value.and_then(Value::as_str) {
            Some(v) if kind != PatchKind::Remove && v == group_id => Ok(()),
            _ => Err(read_only("id")),
        },
        "meta" => Err(read_only("meta")),
        "displayName" if simple => {
            if kind == PatchKind::Remove {
                return Err(ScimError::invalid_value(
                    "\"displayName\" is required and cannot be removed",
                ));
            }
            let name = match value {
                Some(Value::String(s)) if !s.trim().is_empty() => s,
                _ => {
                    return Err(ScimError::invalid_value(
                        "\"displayName\" must be a non-empty string",
                    ));
                }
            };
            check_len("displayName", name)?;
            out.display_name = Some(name.clone());
            Ok(())
        }
        "externalId" if simple => {
            out.external_id = Some(match (kind, value) {
                (PatchKind::Remove, _) | (_, None | Some(Value::Null)) => None,
                (_, Some(Value::String(s))) if s.is_empty() => None,
                (_, Some(Value::String(s))) => {
                    check_len("externalId", s)?;
                    Some(s.clone())
                }
                _ => return Err(ScimError::invalid_value("\"externalId\" must be a string")),
            });
            Ok(())
        }
        "members" => members(out, kind, &p, value),
        _ => Err(ScimError::invalid_path(format!(
            "unsupported path \"{}\"",
            p.describe()
        ))),
    }
}

fn check_len(name: &str, s: &str) -> Result<(), ScimError> {
    if s.len() > MAX_STRING_BYTES {
        return Err(ScimError::invalid_value(format!(
            "\"{name}\" is longer than {MAX_STRING_BYTES} bytes"
        )));
    }
    Ok(())
}

fn members(
    out: &mut GroupPatch,
    kind: PatchKind,
    p: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    if p.sub.is_some() {
        return Err(ScimError::invalid_path(format!(
            "unsupported path \"{}\": members can only be added, replaced or removed whole",
            p.describe()
        )));
    }
    let change = match (kind, &p.filter) {
        (PatchKind::Remove, Some(f)) => {
            let values = filter_values(f).ok_or_else(|| {
                ScimError::invalid_path(
                    "a member filter must be value eq \"id\", optionally joined with or",
                )
            })?;
            Some(Change::Remove(pb::MemberValues { values }))
        }
        (_, Some(_)) => {
            return Err(ScimError::invalid_path(format!(
                "unsupported path \"{}\": add and replace take the path \"members\"",
                p.describe()
            )));
        }
        (PatchKind::Add, None) => {
            let members = members_from_json(value)?;
            (!members.is_empty()).then_some(Change::Add(pb::MemberList { members }))
        }
        (PatchKind::Replace, None) => {
            let members = members_from_json(value)?;
            Some(Change::Replace(pb::MemberList { members }))
        }
        (PatchKind::Remove, None) => match value {
            None | Some(Value::Null) => Some(Change::RemoveAll(true)),
            Some(v) => {
                // Entra: remove exactly the listed members, never the whole group.
                let values: Vec<String> = members_from_json(Some(v))?
                    .into_iter()
                    .map(|m| m.value)
                    .collect();
                (!values.is_empty()).then_some(Change::Remove(pb::MemberValues { values }))
            }
        },
    };
    out.touches_members = true;
    if let Some(kind) = change {
        out.member_changes
            .push(pb::MemberChange { kind: Some(kind) });
    }
    Ok(())
}

/// The member ids named by `value eq "…"` comparisons joined with `or`, de-duplicated.
fn filter_values(f: &pb::Filter) -> Option<Vec<String>> {
    let mut out = Vec::new();
    collect(f, &mut out)?;
    let mut seen = HashSet::new();
    out.retain(|v| seen.insert(v.clone()));
    Some(out)
}

fn collect(f: &pb::Filter, out: &mut Vec<String>) -> Option<()> {
    match &f.kind {
        Some(Kind::Compare(c)) if c.attribute == "value" && c.op == pb::CompareOp::Eq as i32 => {
            match c.value.as_ref().and_then(|v| v.kind.as_ref()) {
                Some(ValueKind::StringValue(s)) => {
                    out.push(s.clone());
                    Some(())
                }
                _ => None,
            }
        }
        Some(Kind::Or(o)) => o.operands.iter().try_for_each(|o| collect(o, out)),
        _ => None,
    }
}
