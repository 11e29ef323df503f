//! Small helpers for reading client JSON leniently: case-insensitive keys, Entra's
//! string booleans, typed accessors that name the offending attribute.

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::scim::user::MAX_STRING_BYTES;

/// The entry whose key equals `key` case-insensitively (attribute names and message
/// keys are case-insensitive, RFC 7643 §2.1).
pub(crate) fn get_ci<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Option<(&'a String, &'a Value)> {
    obj.get_key_value(key)
        .or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)))
}

/// A boolean, also when sent as the string `"True"`/`"false"` (Entra does).
pub(crate) fn lenient_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Typed, case-insensitive access to the attributes of one JSON object, with error
/// messages that name the attribute (prefixed by where the object sits, e.g.
/// `name.givenName`). `null` reads as absent everywhere (Entra sends nulls for unset
/// attributes).
pub(crate) struct Fields<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Fields<'a> {
    /// The attributes of `v`, which must be an object; `what` names it in errors.
    pub(crate) fn of(v: &'a Value, prefix: impl Into<String>) -> Result<Self, ScimError> {
        let prefix = prefix.into();
        let obj = v.as_object().ok_or_else(|| {
            let name = prefix.trim_end_matches(['.', ':']);
            ScimError::invalid_value(format!("\"{name}\" must be an object"))
        })?;
        Ok(Fields { obj, prefix })
    }

    /// The underlying object.
    pub(crate) fn object(&self) -> &'a Map<String, Value> {
        self.obj
    }

    fn name(&self, attr: &str) -> String {
        format!("{}{attr}", self.prefix)
    }

    /// The non-null value of `attr`.
    pub(crate) fn get(&self, attr: &str) -> Option<&'a Value> {
        get_ci(self.obj, attr)
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    }

    /// A string attribute; `""` reads as absent. At most `MAX_STRING_BYTES`.
    pub(crate) fn string(&self, attr: &str) -> Result<Option<String>, ScimError> {
        match self.get(attr) {
            None => Ok(None),
            Some(Value::String(s)) => {
                if s.len() > MAX_STRING_BYTES {
                    return Err(ScimError::invalid_value(format!(
                        "\"{}\" is longer than {MAX_STRING_BYTES} bytes",
                        self.name(attr)
                    )));
                }
                Ok(Some(s.clone()).filter(|s| !s.is_empty()))
            }
            Some(_) => Err(ScimError::invalid_value(format!(
                "\"{}\" must be a string",
                self.name(attr)
            ))),
        }
    }

    /// A boolean attribute, also accepting `"True"`/`"False"` strings.
    pub(crate) fn boolean(&self, attr: &str) -> Result<Option<bool>, ScimError> {
        match self.get(attr) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(v) => lenient_bool(v).map(Some).ok_or_else(|| {
                ScimError::invalid_value(format!("\"{}\" must be a boolean", self.name(attr)))
            }),
        }
    }

    /// The values of a multi-valued attribute: an array (a lone object is read as a
    /// one-element list), at most `max` long.
    pub(crate) fn list(&self, attr: &str, max: usize) -> Result<Vec<&'a Value>, ScimError> {
        let items: Vec<&Value> = match self.get(attr) {
            None => Vec::new(),
            Some(Value::Array(a)) => a.iter().filter(|v| !v.is_null()).collect(),
            Some(v @ Value::Object(_)) => vec![v],
            Some(_) => {
                return Err(ScimError::invalid_value(format!(
                    "\"{}\" must be an array",
                    self.name(attr)
                )));
            }
        };
        if items.len() > max {
            return Err(ScimError::invalid_value(format!(
                "\"{}\" has more than {max} values",
                self.name(attr)
            )));
        }
        Ok(items)
    }
}
