//! Attribute projection: the `attributes` and `excludedAttributes` parameters
//! (RFC 7644 §3.4.2.5, §3.9).
//!
//! Names are comma-separated, case-insensitive, optionally URN-qualified, and may name
//! a sub-attribute (`name.givenName`, `emails.value`) or a whole schema (the enterprise
//! URN). Unknown names are ignored rather than rejected: a client asking for an
//! attribute we do not have simply does not get it. `id`, `schemas` and `meta` are
//! always returned.

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::ScimError;
use scim_model::path::resolve;
use scim_model::{AttrDef, ResourceKind, Returned, SchemaDef, schema_by_urn};

/// One entry of an attribute list.
#[derive(Debug, Clone, Copy)]
enum Sel {
    /// A whole schema, named by its URN.
    Schema(&'static SchemaDef),
    /// An attribute, or one of its sub-attributes.
    Attr(
        &'static SchemaDef,
        &'static AttrDef,
        Option<&'static AttrDef>,
    ),
}

fn parse_list(kind: ResourceKind, list: Option<&str>) -> Option<Vec<Sel>> {
    let list = list.map(str::trim).filter(|l| !l.is_empty())?;
    let sels = list
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .filter_map(|n| {
            if let Some(s) = schema_by_urn(kind, n) {
                return Some(Sel::Schema(s));
            }
            resolve(kind, n).map(|p| Sel::Attr(p.schema, p.attr, p.sub))
        })
        .collect();
    Some(sels)
}

/// A resource as a response carries it: written whole, straight from its message, when
/// no projection applies; otherwise as the JSON that remains after the projection.
#[derive(Debug, Clone)]
pub enum Projected<T> {
    /// The whole resource.
    Whole(T),
    /// What the projection kept.
    Json(Value),
}

impl<T: Serialize> Serialize for Projected<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Projected::Whole(r) => r.serialize(s),
            Projected::Json(v) => v.serialize(s),
        }
    }
}

/// Applies `attributes` / `excludedAttributes` to a rendered resource in place.
pub fn project(
    resource: &mut Value,
    kind: ResourceKind,
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> Result<(), ScimError> {
    let Some(obj) = resource.as_object_mut() else {
        return Ok(());
    };
    if let Some(keep) = parse_list(kind, attributes) {
        for &schema in kind.schemas() {
            with_container(obj, schema, |c| retain(c, schema, &keep));
        }
    }
    if let Some(drop) = parse_list(kind, excluded) {
        for sel in drop {
            match sel {
                Sel::Schema(s) if s.is_extension() => {
                    remove_ci(obj, s.id);
                }
                Sel::Schema(_) => {}
                Sel::Attr(schema, attr, sub) => {
                    with_container(obj, schema, |c| exclude(c, attr, sub));
                }
            }
        }
    }
    tidy_extensions(obj, kind);
    Ok(())
}

/// Whether a group response should carry `members`, so the caller can skip reading
/// the membership table when it does not.
pub fn members_requested(attributes: Option<&str>, excluded: Option<&str>) -> bool {
    let kind = ResourceKind::Group;
    let is_members = |sel: &Sel| matches!(sel, Sel::Attr(_, a, _) if a.name == "members");
    if let Some(drop) = parse_list(kind, excluded)
        && drop
            .iter()
            .any(|s| matches!(s, Sel::Attr(_, a, None) if a.name == "members"))
    {
        return false;
    }
    match parse_list(kind, attributes) {
        None => true,
        Some(keep) => keep
            .iter()
            .any(|s| is_members(s) || matches!(s, Sel::Schema(_))),
    }
}

/// Runs `f` on the object holding `schema`'s attributes: the resource itself for the
/// core schema, the object under the URN key for an extension.
fn with_container(
    obj: &mut Map<String, Value>,
    schema: &'static SchemaDef,
    f: impl FnOnce(&mut Map<String, Value>),
) {
    if !schema.is_extension() {
        f(obj);
        return;
    }
    if let Some(key) = key_ci(obj, schema.id)
        && let Some(Value::Object(ext)) = obj.get_mut(&key)
    {
        f(ext);
    }
}

fn retain(container: &mut Map<String, Value>, schema: &'static SchemaDef, keep: &[Sel]) {
    if keep
        .iter()
        .any(|s| matches!(s, Sel::Schema(k) if k.id == schema.id))
    {
        return;
    }
    let keys: Vec<String> = container.keys().cloned().collect();
    for key in keys {
        if key == "schemas" || (!schema.is_extension() && (key.contains(':') || key == "meta")) {
            // `schemas` is always returned; extension objects are handled on their own.
            // `meta` stays too: it carries the version that the ETag header repeats, and
            // clients (scim2-client among them) rebuild `meta` from the ETag when it is
            // missing.
            continue;
        }
        let Some(attr) = schema.attr(&key) else {
            container.remove(&key);
            continue;
        };
        if attr.returned == Returned::Always {
            continue;
        }
        let mut whole = false;
        let mut subs: Vec<&str> = Vec::new();
        for sel in keep {
            if let Sel::Attr(s, a, sub) = sel
                && s.id == schema.id
                && a.name == attr.name
            {
                match sub {
                    None => whole = true,
                    Some(sub) => subs.push(sub.name),
                }
            }
        }
        if whole {
            continue;
        }
        if subs.is_empty() {
            container.remove(&key);
            continue;
        }
        let empty = container.get_mut(&key).is_none_or(|v| {
            retain_subs(v, &subs);
            is_empty(v)
        });
        if empty {
            container.remove(&key);
        }
    }
}

fn exclude(container: &mut Map<String, Value>, attr: &AttrDef, sub: Option<&AttrDef>) {
    if attr.returned == Returned::Always {
        return;
    }
    let Some(key) = key_ci(container, attr.name) else {
        return;
    };
    match sub {
        None => {
            container.remove(&key);
        }
        Some(sub) => {
            let empty = container.get_mut(&key).is_none_or(|v| {
                for_each_object(v, |o| {
                    if let Some(k) = key_ci(o, sub.name) {
                        o.remove(&k);
                    }
                });
                is_empty(v)
            });
            if empty {
                container.remove(&key);
            }
        }
    }
}

fn retain_subs(v: &mut Value, subs: &[&str]) {
    for_each_object(v, |o| {
        o.retain(|k, _| subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
    });
    if let Value::Array(items) = v {
        items.retain(|i| !is_empty(i));
    }
}

fn for_each_object(v: &mut Value, mut f: impl FnMut(&mut Map<String, Value>)) {
    match v {
        Value::Object(o) => f(o),
        Value::Array(items) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(f),
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

fn key_ci(obj: &Map<String, Value>, name: &str) -> Option<String> {
    obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn remove_ci(obj: &mut Map<String, Value>, name: &str) {
    if let Some(k) = key_ci(obj, name) {
        obj.remove(&k);
    }
}

/// Drops emptied extension objects and keeps `schemas` in step with what remains.
fn tidy_extensions(obj: &mut Map<String, Value>, kind: ResourceKind) {
    for schema in kind.schemas().iter().filter(|s| s.is_extension()) {
        let present = match key_ci(obj, schema.id) {
            Some(k) if obj.get(&k).is_some_and(is_empty) => {
                obj.remove(&k);
                false
            }
            Some(_) => true,
            None => false,
        };
        if !present && let Some(Value::Array(list)) = obj.get_mut("schemas") {
            list.retain(|s| {
                !s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(schema.id))
            });
        }
    }
}

#[cfg(test)]
mod tests;
