//! Checking PATCH values against the catalogue: canonical sub-attribute names, real
//! booleans, `manager` as an object, so identity-service receives them typed.

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::scim::json::lenient_bool;
use scim_model::{AttrDef, AttrType};

/// `null`, `""` and `[]` clear the target (Microsoft's validator clears attributes
/// with `""` and then `null`).
pub(super) fn is_clear(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn wrong_type(def: &AttrDef, what: &str) -> ScimError {
    ScimError::invalid_value(format!("\"{}\" must be {what}", def.name))
}

/// A value for a simple (non-complex) attribute.
pub(super) fn simple(def: &AttrDef, v: &Value) -> Result<Value, ScimError> {
    match def.kind {
        AttrType::Boolean => lenient_bool(v)
            .map(Value::Bool)
            .ok_or_else(|| wrong_type(def, "a boolean")),
        AttrType::Integer | AttrType::Decimal => match v {
            Value::Number(_) => Ok(v.clone()),
            _ => Err(wrong_type(def, "a number")),
        },
        _ => match v {
            Value::String(_) => Ok(v.clone()),
            _ => Err(wrong_type(def, "a string")),
        },
    }
}

/// One element of a complex attribute with canonical keys. A bare string stands for
/// `{"value": s}` (Entra sends `manager` that way). Unknown sub-attributes are dropped,
/// the way the decoders ignore them; cleared sub-values (`null`, `""`) are left out.
pub(super) fn element(attr: &'static AttrDef, v: &Value) -> Result<Map<String, Value>, ScimError> {
    let mut e = element_update(attr, v)?;
    e.retain(|_, v| !v.is_null());
    Ok(e)
}

/// Like [`element`], but cleared sub-values stay as `null` so a merge can clear them.
pub(super) fn element_update(
    attr: &'static AttrDef,
    v: &Value,
) -> Result<Map<String, Value>, ScimError> {
    let v = match v {
        // Entra's legacy manager PATCH wraps the object in a one-element list.
        Value::Array(items) if !attr.multi_valued && items.len() == 1 => &items[0],
        other => other,
    };
    let mut out = Map::new();
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let Some(sub) = attr.sub(k) else { continue };
                let x = if is_clear(x) {
                    Value::Null
                } else {
                    simple(sub, x)?
                };
                out.insert(sub.name.to_owned(), x);
            }
        }
        Value::String(s) if attr.sub("value").is_some() => {
            out.insert("value".into(), Value::String(s.clone()));
        }
        _ => return Err(wrong_type(attr, "an object")),
    }
    Ok(out)
}

/// The elements of a multi-valued attribute value: an array, or one element alone.
pub(super) fn elements(
    attr: &'static AttrDef,
    v: &Value,
) -> Result<Vec<Map<String, Value>>, ScimError> {
    match v {
        Value::Array(items) => items
            .iter()
            .filter(|i| !i.is_null())
            .map(|i| element(attr, i))
            .collect(),
        Value::Null => Ok(Vec::new()),
        other => Ok(vec![element(attr, other)?]),
    }
}
