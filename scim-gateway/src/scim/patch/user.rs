//! PATCH for users, applied to the user's SCIM JSON.

use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::filter::Kind;
use scim_proto::identity::v1::filter_value::Kind as ValueKind;
use serde_json::{Map, Value};

use super::path::{PatchPath, parse_path};
use super::values::{elements, is_clear, same_value, simple, single_primary};
use super::{PatchKind, PatchOp};
use crate::error::ScimError;
use crate::scim::filter::matches;
use scim_model::path::{clip, resolve_in};
use scim_model::{Mutability, ResourceKind, SchemaDef, schema_by_urn};

/// Applies `ops` in order to `user`, the JSON produced by `user_to_json`. On error
/// `user` is left untouched.
///
/// Beyond RFC 7644 §3.5.2 this accepts what Okta and Entra send: path-less values with
/// nested, dotted and URN-qualified keys; `"True"`/`"False"`; `manager` as a bare id;
/// `""`/`null` to clear; and a filtered `add`/`replace` that matches nothing creates
/// the element from the filter's `eq` values (`emails[type eq "work"].value`).
pub fn apply_user_patch(user: &mut Value, ops: &[PatchOp]) -> Result<(), ScimError> {
    let mut doc = user.clone();
    let root = doc
        .as_object_mut()
        .ok_or_else(|| ScimError::Internal("user document is not an object".into()))?;
    for op in ops {
        apply(root, op)?;
    }
    *user = doc;
    Ok(())
}

fn apply(root: &mut Map<String, Value>, op: &PatchOp) -> Result<(), ScimError> {
    match (&op.path, op.op) {
        (None, PatchKind::Remove) => Err(ScimError::no_target("\"remove\" needs a \"path\"")),
        (None, kind) => {
            let Some(Value::Object(values)) = &op.value else {
                return Err(ScimError::invalid_value(
                    "an operation without \"path\" needs an object \"value\"",
                ));
            };
            for (key, v) in values {
                apply_path(root, kind, key, Some(v))?;
            }
            Ok(())
        }
        (Some(path), kind) => apply_path(root, kind, path, op.value.as_ref()),
    }
}

fn apply_path(
    root: &mut Map<String, Value>,
    kind: PatchKind,
    raw: &str,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    if raw.eq_ignore_ascii_case("schemas") {
        return Err(read_only("schemas"));
    }
    if let Some(schema) = schema_by_urn(ResourceKind::User, raw) {
        if schema.is_extension() {
            return apply_extension(root, kind, schema, value);
        }
        // The core URN as a key wraps core attributes: `{"urn:…:core:2.0:User": {…}}`.
        let Some(Value::Object(values)) = value.filter(|_| kind != PatchKind::Remove) else {
            return Err(ScimError::invalid_path(format!(
                "\"{}\" can only be added to or replaced with an object of attributes",
                schema.id
            )));
        };
        for (k, v) in values {
            apply_path(root, kind, k, Some(v))?;
        }
        return Ok(());
    }
    let path = parse_path(ResourceKind::User, raw)?;
    if path.attr.name == "id" {
        let current = root.get("id").and_then(Value::as_str);
        return match value.and_then(Value::as_str) {
            Some(v) if kind != PatchKind::Remove && Some(v) == current => Ok(()),
            _ => Err(read_only("id")),
        };
    }
    if path.attr.mutability == Mutability::ReadOnly {
        return Err(read_only(path.attr.name));
    }
    if !path.schema.is_extension() {
        return apply_target(root, kind, &path, value);
    }
    let key = canonical_key(root, path.schema.id);
    if kind == PatchKind::Remove && !root.contains_key(&key) {
        return Ok(());
    }
    let mut ext = match root.remove(&key) {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    let r = apply_target(&mut ext, kind, &path, value);
    if !ext.is_empty() {
        root.insert(key, Value::Object(ext));
    }
    r
}

/// The whole enterprise extension as a target: its value is an object of extension
/// attributes (`{"department": "…", "manager": "…"}`).
fn apply_extension(
    root: &mut Map<String, Value>,
    kind: PatchKind,
    ext: &'static SchemaDef,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let clear = value.is_none_or(is_clear);
    if kind == PatchKind::Remove || clear {
        let key = canonical_key(root, ext.id);
        root.remove(&key);
        return Ok(());
    }
    let Some(Value::Object(values)) = value else {
        return Err(ScimError::invalid_value(format!(
            "\"{}\" must be an object",
            ext.id
        )));
    };
    for (k, v) in values {
        // Clients that send the extension as a whole object sometimes repeat its
        // `schemas` inside; it carries nothing to store.
        if k.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let p = resolve_in(ext, k).ok_or_else(|| {
            ScimError::invalid_path(format!("unknown attribute \"{}:{}\"", ext.id, clip(k)))
        })?;
        apply_path(root, kind, &p.to_string(), Some(v))?;
    }
    Ok(())
}

fn read_only(name: &str) -> ScimError {
    ScimError::mutability(format!("\"{name}\" is read-only"))
}

/// The key `name` is stored under: an existing key that matches case-insensitively is
/// renamed to the canonical spelling first.
fn canonical_key(obj: &mut Map<String, Value>, name: &str) -> String {
    if !obj.contains_key(name)
        && let Some(old) = obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
        && let Some(v) = obj.remove(&old)
    {
        obj.insert(name.to_owned(), v);
    }
    name.to_owned()
}

fn apply_target(
    c: &mut Map<String, Value>,
    kind: PatchKind,
    p: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let key = canonical_key(c, p.attr.name);
    let value = match (kind, value) {
        (PatchKind::Remove, v) => return remove(c, &key, p, v),
        (PatchKind::Add, None) => {
            return Err(ScimError::invalid_value(format!(
                "\"add\" to \"{}\" needs a \"value\"",
                p.describe()
            )));
        }
        (_, None) => &Value::Null,
        (_, Some(v)) => v,
    };
    if let Some(filter) = &p.filter {
        return set_filtered(c, &key, kind, p, filter, value);
    }
    match (p.attr.multi_valued, p.sub) {
        (false, None) if !p.attr.is_complex() => {
            if is_clear(value) {
                c.remove(&key);
            } else {
                c.insert(key.clone(), simple(p.attr, value)?);
            }
        }
        (false, None) => {
            if is_clear(value) {
                c.remove(&key);
            } else {
                let update = super::values::element_update(p.attr, value)?;
                merge_into(c, &key, update);
            }
        }
        (false, Some(sub)) => {
            let v = if is_clear(value) {
                Value::Null
            } else {
                simple(sub, value)?
            };
            let mut update = Map::new();
            update.insert(sub.name.to_owned(), v);
            merge_into(c, &key, update);
        }
        (true, None) => {
            let new = elements(p.attr, value)?;
            if kind == PatchKind::Replace {
                c.remove(&key);
            }
            append(c, &key, p, new);
        }
        (true, Some(sub)) => {
            let mut list = take_list(c, &key);
            if list.is_empty() && !is_clear(value) {
                list.push(Value::Object(Map::new()));
            }
            for e in list.iter_mut() {
                set_sub(e, sub.name, sub, value)?;
            }
            let keep = list.len().saturating_sub(1);
            single_primary(&mut list, keep);
            put_list(c, &key, list);
        }
    }
    drop_if_empty(c, &key);
    Ok(())
}

/// Merges sub-attributes into a single-valued complex attribute; `null`/`""` members
/// of `update` clear that sub-attribute.
fn merge_into(c: &mut Map<String, Value>, key: &str, update: Map<String, Value>) {
    let slot = c
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Some(obj) = slot.as_object_mut() {
        for (k, v) in update {
            obj.retain(|old, _| !old.eq_ignore_ascii_case(&k));
            if !is_clear(&v) {
                obj.insert(k, v);
            }
        }
    }
}

fn set_sub(
    e: &mut Value,
    name: &str,
    sub: &scim_model::AttrDef,
    value: &Value,
) -> Result<(), ScimError> {
    if let Some(o) = e.as_object_mut() {
        o.retain(|k, _| !k.eq_ignore_ascii_case(name));
        if !is_clear(value) {
            o.insert(name.to_owned(), simple(sub, value)?);
        }
    }
    Ok(())
}

/// Takes the list stored at `key` out of `c` (empty if absent or not a list).
fn take_list(c: &mut Map<String, Value>, key: &str) -> Vec<Value> {
    match c.remove(key) {
        Some(Value::Array(list)) => list,
        _ => Vec::new(),
    }
}

/// Stores `list` at `key`, or leaves the attribute out when the list is empty.
fn put_list(c: &mut Map<String, Value>, key: &str, list: Vec<Value>) {
    if !list.is_empty() {
        c.insert(key.to_owned(), Value::Array(list));
    }
}

/// Appends elements, merging any whose `value` is already present.
fn append(c: &mut Map<String, Value>, key: &str, p: &PatchPath, new: Vec<Map<String, Value>>) {
    let mut list = take_list(c, key);
    for e in new {
        let pos = list
            .iter()
            .position(|old| old.as_object().is_some_and(|o| same_value(p.attr, o, &e)));
        let at = match pos {
            Some(i) => {
                if let Some(o) = list[i].as_object_mut() {
                    o.extend(e);
                }
                i
            }
            None => {
                list.push(Value::Object(e));
                list.len() - 1
            }
        };
        single_primary(&mut list, at);
    }
    put_list(c, key, list);
}

fn set_filtered(
    c: &mut Map<String, Value>,
    key: &str,
    kind: PatchKind,
    p: &PatchPath,
    filter: &pb::Filter,
    value: &Value,
) -> Result<(), ScimError> {
    let mut list = take_list(c, key);
    let hits: Vec<bool> = list.iter().map(|e| matches(filter, e, p.attr)).collect();
    if !hits.contains(&true) {
        if !is_clear(value) {
            // Entra replaces `emails[type eq "work"].value` on users that have no work
            // email yet; the RFC's noTarget would fail its whole sync, so we create it.
            let seed = eq_values(filter).ok_or_else(|| {
                ScimError::no_target(format!("no value matches \"{}\"", p.describe()))
            })?;
            let mut e = Value::Object(seed);
            fill(&mut e, kind, p, value)?;
            list.push(e);
            let at = list.len() - 1;
            single_primary(&mut list, at);
        }
    } else if p.sub.is_none() && is_clear(value) {
        list = list
            .into_iter()
            .zip(&hits)
            .filter(|(_, hit)| !**hit)
            .map(|(e, _)| e)
            .collect();
    } else {
        let mut last = 0;
        for (i, e) in list.iter_mut().enumerate().filter(|(i, _)| hits[*i]) {
            fill(e, kind, p, value)?;
            last = i;
        }
        single_primary(&mut list, last);
    }
    put_list(c, key, list);
    Ok(())
}

/// Writes `value` into one selected element: a sub-attribute, or the whole element
/// (replace keeps the filter's identifying `eq` values; add merges).
fn fill(e: &mut Value, kind: PatchKind, p: &PatchPath, value: &Value) -> Result<(), ScimError> {
    if let Some(sub) = p.sub {
        return set_sub(e, sub.name, sub, value);
    }
    if is_clear(value) {
        return Ok(());
    }
    let update = super::values::element(p.attr, value)?;
    if let Some(o) = e.as_object_mut() {
        if kind == PatchKind::Replace {
            let seed = p.filter.as_ref().and_then(eq_values).unwrap_or_default();
            o.clear();
            o.extend(seed);
        }
        o.extend(update);
    }
    Ok(())
}

/// The `attr eq value` pairs of a filter made only of `eq` comparisons joined by `and`.
fn eq_values(f: &pb::Filter) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    collect_eq(f, &mut out).then_some(out)
}

fn collect_eq(f: &pb::Filter, out: &mut Map<String, Value>) -> bool {
    match &f.kind {
        Some(Kind::Compare(c)) if c.op == pb::CompareOp::Eq as i32 => {
            let v = match c.value.as_ref().and_then(|v| v.kind.as_ref()) {
                Some(ValueKind::StringValue(s)) => Value::String(s.clone()),
                Some(ValueKind::BoolValue(b)) => Value::Bool(*b),
                _ => return false,
            };
            out.insert(c.attribute.clone(), v);
            true
        }
        Some(Kind::And(a)) => a.operands.iter().all(|o| collect_eq(o, out)),
        _ => false,
    }
}

fn remove(
    c: &mut Map<String, Value>,
    key: &str,
    p: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Some(slot) = c.get_mut(key) else {
        return Ok(());
    };
    match (&p.filter, p.sub, slot) {
        (None, None, Value::Array(list)) if value.is_some_and(|v| !is_clear(v)) => {
            // Entra-style `remove` with a value list: remove just those values.
            let gone = elements(p.attr, value.unwrap_or(&Value::Null))?;
            list.retain(|e| {
                !e.as_object()
                    .is_some_and(|o| gone.iter().any(|g| same_value(p.attr, o, g)))
            });
        }
        (None, None, _) => {
            c.remove(key);
        }
        (None, Some(sub), slot) => match slot {
            Value::Array(list) => {
                for e in list.iter_mut() {
                    set_sub(e, sub.name, sub, &Value::Null)?;
                }
            }
            other => set_sub(other, sub.name, sub, &Value::Null)?,
        },
        (Some(f), sub, Value::Array(list)) => match sub {
            None => list.retain(|e| !matches(f, e, p.attr)),
            Some(sub) => {
                for e in list.iter_mut().filter(|e| matches(f, e, p.attr)) {
                    set_sub(e, sub.name, sub, &Value::Null)?;
                }
            }
        },
        (Some(_), _, _) => {}
    }
    drop_if_empty(c, key);
    Ok(())
}

fn drop_if_empty(c: &mut Map<String, Value>, key: &str) {
    let empty = match c.get(key) {
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        _ => false,
    };
    if empty {
        c.remove(key);
    }
}
