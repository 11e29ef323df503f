//! User PATCH, read into typed `identity.v1` operations.
//!
//! The gateway does not apply a user PATCH: it resolves each operation's path against
//! the catalogue, checks and types its value, and splits operations that carry several
//! attributes (no path, a complex value, the enterprise extension as an object) into one
//! operation per attribute. identity-service applies them to the stored user inside one
//! transaction (`PatchUser`), so there is no read, no JSON round trip and nothing to
//! retry here.
//!
//! Beyond RFC 7644 §3.5.2 this reads what Okta and Entra send: path-less values with
//! nested, dotted and URN-qualified keys; `"True"`/`"False"`; `manager` as a bare id;
//! `""`/`null` to clear; an `id` equal to the resource's own.

use scim_model::limits::MAX_PATCH_CHANGES;
use scim_model::path::{clip, resolve_in};
use scim_model::stored::locate;
use scim_model::{AttrDef, AttrPath, Mutability, ResourceKind, SchemaDef, schema_by_urn};
use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::patch_value::Kind as ValueKind;
use serde_json::{Map, Value};

use super::path::{PatchPath, parse_path};
use super::values::{element, element_update, elements, is_clear, simple};
use super::{PatchKind, PatchOp};
use crate::error::ScimError;

/// The typed operations of a user PATCH whose path id is `id`. An empty result means
/// the PATCH changes nothing (it only restated the `id`, say).
pub fn user_operations(
    ops: &[PatchOp],
    id: &str,
) -> Result<Vec<pb::UserPatchOperation>, ScimError> {
    let mut out = Ops {
        id,
        list: Vec::new(),
    };
    for op in ops {
        out.operation(op)?;
    }
    Ok(out.list)
}

struct Ops<'a> {
    id: &'a str,
    list: Vec<pb::UserPatchOperation>,
}

fn read_only(name: &str) -> ScimError {
    ScimError::mutability(format!("\"{name}\" is read-only"))
}

fn op_of(kind: PatchKind) -> pb::PatchOp {
    match kind {
        PatchKind::Add => pb::PatchOp::Add,
        PatchKind::Remove => pb::PatchOp::Remove,
        PatchKind::Replace => pb::PatchOp::Replace,
    }
}

/// A simple value as identity.v1 types it.
fn scalar(v: Value) -> ValueKind {
    match v {
        Value::Bool(b) => ValueKind::BoolValue(b),
        Value::String(s) => ValueKind::StringValue(s),
        other => ValueKind::StringValue(other.to_string()),
    }
}

/// One element with canonical keys as a typed element.
fn typed_element(e: &Map<String, Value>) -> pb::PatchElement {
    let text = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
    pb::PatchElement {
        value: text("value"),
        display: text("display"),
        r#type: text("type"),
        primary: e.get("primary").and_then(Value::as_bool),
        formatted: text("formatted"),
        street_address: text("streetAddress"),
        locality: text("locality"),
        region: text("region"),
        postal_code: text("postalCode"),
        country: text("country"),
    }
}

fn typed_elements(list: &[Map<String, Value>]) -> ValueKind {
    ValueKind::Elements(pb::PatchElements {
        elements: list.iter().map(typed_element).collect(),
    })
}

impl Ops<'_> {
    /// Pushes a change of `at`, unless the directory keeps no such attribute (`$ref` of
    /// `manager`, say): those are ignored, as the resource decoder ignores them.
    fn push_at(
        &mut self,
        kind: PatchKind,
        at: AttrPath,
        value_filter: Option<pb::Filter>,
        value: Option<ValueKind>,
    ) -> Result<(), ScimError> {
        if locate(ResourceKind::User, &at).is_none() {
            return Ok(());
        }
        self.push(kind, at.to_string(), value_filter, value)
    }

    fn push(
        &mut self,
        kind: PatchKind,
        attribute: String,
        value_filter: Option<pb::Filter>,
        value: Option<ValueKind>,
    ) -> Result<(), ScimError> {
        if self.list.len() == MAX_PATCH_CHANGES {
            return Err(ScimError::invalid_value(format!(
                "a PATCH may change at most {MAX_PATCH_CHANGES} attributes"
            )));
        }
        self.list.push(pb::UserPatchOperation {
            op: op_of(kind) as i32,
            attribute,
            value_filter,
            value: value.map(|k| pb::PatchValue { kind: Some(k) }),
        });
        Ok(())
    }

    fn operation(&mut self, op: &PatchOp) -> Result<(), ScimError> {
        match (&op.path, op.op) {
            (None, PatchKind::Remove) => Err(ScimError::no_target("\"remove\" needs a \"path\"")),
            (None, kind) => {
                let Some(Value::Object(values)) = &op.value else {
                    return Err(ScimError::invalid_value(
                        "an operation without \"path\" needs an object \"value\"",
                    ));
                };
                for (key, v) in values {
                    self.path(kind, key, Some(v))?;
                }
                Ok(())
            }
            (Some(path), kind) => self.path(kind, path, op.value.as_ref()),
        }
    }

    fn path(&mut self, kind: PatchKind, raw: &str, value: Option<&Value>) -> Result<(), ScimError> {
        if raw.eq_ignore_ascii_case("schemas") {
            return Err(read_only("schemas"));
        }
        if let Some(schema) = schema_by_urn(ResourceKind::User, raw) {
            if schema.is_extension() {
                return self.extension(kind, schema, value);
            }
            // The core URN as a key wraps core attributes: `{"urn:…:core:2.0:User": {…}}`.
            let Some(Value::Object(values)) = value.filter(|_| kind != PatchKind::Remove) else {
                return Err(ScimError::invalid_path(format!(
                    "\"{}\" can only be added to or replaced with an object of attributes",
                    schema.id
                )));
            };
            for (k, v) in values {
                self.path(kind, k, Some(v))?;
            }
            return Ok(());
        }
        let path = parse_path(ResourceKind::User, raw)?;
        if path.attr.name == "id" {
            // Restating the resource's own id changes nothing; anything else is refused.
            return match value.and_then(Value::as_str) {
                Some(v) if kind != PatchKind::Remove && v == self.id => Ok(()),
                _ => Err(read_only("id")),
            };
        }
        if path.attr.mutability == Mutability::ReadOnly {
            return Err(read_only(path.attr.name));
        }
        self.target(kind, &path, value)
    }

    /// The whole enterprise extension as a target: its value is an object of extension
    /// attributes (`{"department": "…", "manager": "…"}`).
    fn extension(
        &mut self,
        kind: PatchKind,
        ext: &'static SchemaDef,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        if kind == PatchKind::Remove || value.is_none_or(is_clear) {
            return self.push(kind, ext.id.to_owned(), None, None);
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
            self.path(kind, &p.to_string(), Some(v))?;
        }
        Ok(())
    }

    fn target(
        &mut self,
        kind: PatchKind,
        p: &PatchPath,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let name = |sub: Option<&'static AttrDef>| AttrPath {
            schema: p.schema,
            attr: p.attr,
            sub,
        };
        let value = match (kind, value) {
            (PatchKind::Remove, v) => return self.remove(p, v),
            (PatchKind::Add, None) => {
                return Err(ScimError::invalid_value(format!(
                    "\"add\" to \"{}\" needs a \"value\"",
                    p.describe()
                )));
            }
            (_, None) => &Value::Null,
            (_, Some(v)) => v,
        };
        let filter = p.filter.clone();
        match (p.attr.multi_valued, p.sub) {
            (_, Some(sub)) => {
                let v = if is_clear(value) {
                    None
                } else {
                    Some(scalar(simple(sub, value)?))
                };
                self.push_at(kind, name(Some(sub)), filter, v)
            }
            (false, None) if !p.attr.is_complex() => {
                let v = if is_clear(value) {
                    None
                } else {
                    Some(scalar(simple(p.attr, value)?))
                };
                self.push_at(kind, name(None), None, v)
            }
            (false, None) => {
                if is_clear(value) {
                    return self.push_at(kind, name(None), None, None);
                }
                // A single-valued complex attribute merges: each sub-attribute sent is
                // one change, `null`/`""` clearing it.
                for (sub, v) in element_update(p.attr, value)? {
                    let def = p.attr.sub(&sub);
                    let v = (!v.is_null()).then(|| scalar(v));
                    self.push_at(kind, name(def), None, v)?;
                }
                Ok(())
            }
            (true, None) if filter.is_some() => {
                let v = if is_clear(value) {
                    None
                } else {
                    Some(typed_elements(&[element(p.attr, value)?]))
                };
                self.push_at(kind, name(None), filter, v)
            }
            (true, None) => {
                let list = elements(p.attr, value)?;
                self.push_at(kind, name(None), None, Some(typed_elements(&list)))
            }
        }
    }

    fn remove(&mut self, p: &PatchPath, value: Option<&Value>) -> Result<(), ScimError> {
        let attribute = AttrPath {
            schema: p.schema,
            attr: p.attr,
            sub: p.sub,
        };
        let gone = match (&p.filter, p.sub, value) {
            // Entra-style `remove` with a value list: remove just those values.
            (None, None, Some(v)) if p.attr.multi_valued && !is_clear(v) => {
                Some(typed_elements(&elements(p.attr, v)?))
            }
            _ => None,
        };
        self.push_at(PatchKind::Remove, attribute, p.filter.clone(), gone)
    }
}
