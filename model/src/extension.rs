//! Extension schemas an operator defines for a tenant (a company's `costCenter`, Entra's
//! custom extension attributes, Okta's profile attributes), read from the RFC 7643 §7
//! form an operator writes, and the check of a value against them.
//!
//! The built-in schemas are `static` ([`crate::catalogue`]); an extension is data, owned
//! here once it is read. What an extension may define is bounded: the types of RFC 7643
//! §2.3 but `binary`, one level of sub-attributes, and `uniqueness` only on a singular
//! top-level string, reference or integer (the values a directory can index).

use serde_json::{Map, Value};

use crate::limits::{
    MAX_CANONICAL_VALUES, MAX_EXTENSION_ATTRIBUTES, MAX_ID_BYTES, MAX_NAME_BYTES, MAX_STRING_BYTES,
    MAX_VALUES,
};
use crate::schema::{AttrType, Mutability, Returned, Uniqueness};

/// Names an extension cannot take: the schemas and messages this server defines.
const RESERVED_PREFIXES: [&str; 2] = [
    "urn:ietf:params:scim:schemas:core:",
    "urn:ietf:params:scim:api:",
];

/// A schema definition that cannot be used, and where in it the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {problem}")]
pub struct DefinitionError {
    /// Where: `id`, `attributes[2].type`, `attributes[0].subAttributes[1].name`.
    pub at: String,
    /// What is wrong and what would be accepted.
    pub problem: String,
}

fn bad(at: &str, problem: impl Into<String>) -> DefinitionError {
    DefinitionError {
        at: at.to_owned(),
        problem: problem.into(),
    }
}

/// An extension schema, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtensionSchema {
    /// The schema URN.
    pub id: String,
    /// A human-readable name.
    pub name: Option<String>,
    /// What the schema is for.
    pub description: Option<String>,
    /// Its attributes.
    pub attributes: Vec<ExtAttr>,
}

/// One attribute of an extension schema, every characteristic explicit.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtAttr {
    /// The attribute name.
    pub name: String,
    /// Its type.
    pub kind: AttrType,
    /// Whether it holds a list.
    pub multi_valued: bool,
    /// Whether a resource must have it.
    pub required: bool,
    /// Whether strings compare case-sensitively.
    pub case_exact: bool,
    /// Who may write it.
    pub mutability: Mutability,
    /// When it is returned.
    pub returned: Returned,
    /// Its uniqueness rule.
    pub uniqueness: Uniqueness,
    /// The values a string may take (empty: any).
    pub canonical_values: Vec<String>,
    /// What a reference may point to (`reference` only).
    pub reference_types: Vec<String>,
    /// What it is for.
    pub description: Option<String>,
    /// Sub-attributes (`complex` only; never complex themselves).
    pub sub_attributes: Vec<ExtAttr>,
}

impl ExtensionSchema {
    /// The top-level attribute `name`, compared case-insensitively.
    pub fn attr(&self, name: &str) -> Option<&ExtAttr> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Every attribute, sub-attributes included.
    fn count(&self) -> usize {
        self.attributes
            .iter()
            .map(|a| 1 + a.sub_attributes.len())
            .sum()
    }
}

impl ExtensionSchema {
    /// The definition in RFC 7643 §7 form with every characteristic explicit: what the
    /// directory keeps, and what `/Schemas` shows (with `meta` added). Reading it back
    /// gives the same schema.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("schemas".into(), Value::from(vec![crate::SCHEMA_SCHEMA]));
        o.insert("id".into(), self.id.clone().into());
        if let Some(n) = &self.name {
            o.insert("name".into(), n.clone().into());
        }
        if let Some(d) = &self.description {
            o.insert("description".into(), d.clone().into());
        }
        let attrs: Vec<Value> = self.attributes.iter().map(ExtAttr::to_json).collect();
        o.insert("attributes".into(), Value::Array(attrs));
        Value::Object(o)
    }
}

impl ExtAttr {
    fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("name".into(), self.name.clone().into());
        o.insert("type".into(), self.kind.as_str().into());
        o.insert("multiValued".into(), self.multi_valued.into());
        if let Some(d) = &self.description {
            o.insert("description".into(), d.clone().into());
        }
        o.insert("required".into(), self.required.into());
        o.insert("caseExact".into(), self.case_exact.into());
        if !self.canonical_values.is_empty() {
            o.insert(
                "canonicalValues".into(),
                self.canonical_values.clone().into(),
            );
        }
        if self.kind == AttrType::Reference {
            o.insert("referenceTypes".into(), self.reference_types.clone().into());
        }
        o.insert("mutability".into(), self.mutability.as_str().into());
        o.insert("returned".into(), self.returned.as_str().into());
        o.insert("uniqueness".into(), self.uniqueness.as_str().into());
        if self.kind == AttrType::Complex {
            let subs: Vec<Value> = self.sub_attributes.iter().map(ExtAttr::to_json).collect();
            o.insert("subAttributes".into(), Value::Array(subs));
        }
        Value::Object(o)
    }

    /// The sub-attribute `name`, compared case-insensitively.
    pub fn sub(&self, name: &str) -> Option<&ExtAttr> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// The value of `key` in `obj`, matching the name case-insensitively as SCIM does.
fn get<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

fn text(obj: &Map<String, Value>, key: &str, at: &str) -> Result<Option<String>, DefinitionError> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) if s.len() <= MAX_STRING_BYTES => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(bad(
            &format!("{at}{key}"),
            format!("longer than {MAX_STRING_BYTES} bytes"),
        )),
        Some(_) => Err(bad(&format!("{at}{key}"), "must be a string")),
    }
}

fn flag(obj: &Map<String, Value>, key: &str, at: &str) -> Result<bool, DefinitionError> {
    match get(obj, key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(bad(&format!("{at}{key}"), "must be true or false")),
    }
}

/// One of `choices` (by its wire spelling, any case), or `default` when absent.
fn choice<T: Copy>(
    obj: &Map<String, Value>,
    key: &str,
    at: &str,
    choices: &[T],
    spell: fn(T) -> &'static str,
    default: T,
) -> Result<T, DefinitionError> {
    let Some(v) = get(obj, key) else {
        return Ok(default);
    };
    let allowed = || {
        choices
            .iter()
            .map(|c| spell(*c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let s = v.as_str().ok_or_else(|| {
        bad(
            &format!("{at}{key}"),
            format!("must be one of {}", allowed()),
        )
    })?;
    choices
        .iter()
        .copied()
        .find(|c| spell(*c).eq_ignore_ascii_case(s))
        .ok_or_else(|| {
            bad(
                &format!("{at}{key}"),
                format!("`{s}` is not one of {}", allowed()),
            )
        })
}

fn strings(
    obj: &Map<String, Value>,
    key: &str,
    at: &str,
    max: usize,
) -> Result<Vec<String>, DefinitionError> {
    let at = format!("{at}{key}");
    let Some(v) = get(obj, key) else {
        return Ok(Vec::new());
    };
    let items = v
        .as_array()
        .ok_or_else(|| bad(&at, "must be an array of strings"))?;
    if items.len() > max {
        return Err(bad(&at, format!("more than {max} values")));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let s = item
            .as_str()
            .filter(|s| !s.is_empty() && s.len() <= MAX_NAME_BYTES)
            .ok_or_else(|| {
                bad(
                    &at,
                    format!("each value must be a string of 1 to {MAX_NAME_BYTES} bytes"),
                )
            })?;
        if out.iter().any(|o| o == s) {
            return Err(bad(&at, format!("`{s}` is listed twice")));
        }
        out.push(s.to_owned());
    }
    Ok(out)
}

/// RFC 7643 §2.1: an attribute name is a letter, then letters, digits, `-` or `_`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.len() <= 64
}

const TYPES: [AttrType; 7] = [
    AttrType::String,
    AttrType::Boolean,
    AttrType::Decimal,
    AttrType::Integer,
    AttrType::DateTime,
    AttrType::Reference,
    AttrType::Complex,
];
const MUTABILITIES: [Mutability; 4] = [
    Mutability::ReadWrite,
    Mutability::Immutable,
    Mutability::WriteOnly,
    Mutability::ReadOnly,
];
const RETURNS: [Returned; 4] = [
    Returned::Default,
    Returned::Always,
    Returned::Request,
    Returned::Never,
];
const UNIQUENESS: [Uniqueness; 3] = [Uniqueness::None, Uniqueness::Server, Uniqueness::Global];

/// The keys an attribute definition may have.
const ATTRIBUTE_KEYS: [&str; 12] = [
    "name",
    "type",
    "multiValued",
    "description",
    "required",
    "caseExact",
    "mutability",
    "returned",
    "uniqueness",
    "canonicalValues",
    "referenceTypes",
    "subAttributes",
];

/// Reads an extension schema definition (RFC 7643 §7 form) and checks it.
pub fn parse(definition: &Value) -> Result<ExtensionSchema, DefinitionError> {
    let obj = definition
        .as_object()
        .ok_or_else(|| bad("schema", "must be a JSON object"))?;
    let id = match get(obj, "id") {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(_) => return Err(bad("id", "must be a string")),
        None => return Err(bad("id", "is required: the schema's URN")),
    };
    check_urn(&id)?;
    let attrs = get(obj, "attributes")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("attributes", "must be an array of attribute definitions"))?;
    if attrs.is_empty() {
        return Err(bad("attributes", "must define at least one attribute"));
    }
    let mut attributes: Vec<ExtAttr> = Vec::with_capacity(attrs.len());
    for (i, a) in attrs.iter().enumerate() {
        let at = format!("attributes[{i}]");
        let attr = attribute(a, &at, true)?;
        if attributes
            .iter()
            .any(|o| o.name.eq_ignore_ascii_case(&attr.name))
        {
            return Err(bad(
                &format!("{at}.name"),
                format!(
                    "`{}` is defined twice (names compare in any case)",
                    attr.name
                ),
            ));
        }
        attributes.push(attr);
    }
    let schema = ExtensionSchema {
        id,
        name: text(obj, "name", "")?,
        description: text(obj, "description", "")?,
        attributes,
    };
    if schema.count() > MAX_EXTENSION_ATTRIBUTES {
        return Err(bad(
            "attributes",
            format!("more than {MAX_EXTENSION_ATTRIBUTES} attributes and sub-attributes"),
        ));
    }
    Ok(schema)
}

fn check_urn(id: &str) -> Result<(), DefinitionError> {
    let lower = id.to_ascii_lowercase();
    if !lower.starts_with("urn:") || id.len() < 6 {
        return Err(bad(
            "id",
            "must be a URN, such as urn:ietf:params:scim:schemas:extension:acme:2.0:User",
        ));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(bad("id", format!("longer than {MAX_ID_BYTES} bytes")));
    }
    if id.ends_with(':') || id.contains("::") {
        return Err(bad("id", "has an empty part"));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '[' | ']' | '/' | '?' | '#'))
    {
        return Err(bad(
            "id",
            "may hold only printable ASCII without spaces, quotes, brackets, `/`, `?` or `#`",
        ));
    }
    let reserved = RESERVED_PREFIXES.iter().any(|p| lower.starts_with(p))
        || lower == crate::ENTERPRISE_USER_SCHEMA.to_ascii_lowercase();
    if reserved {
        return Err(bad(
            "id",
            "names a schema this server defines; an extension needs a URN of its own",
        ));
    }
    Ok(())
}

fn attribute(v: &Value, at: &str, top: bool) -> Result<ExtAttr, DefinitionError> {
    let obj = v
        .as_object()
        .ok_or_else(|| bad(at, "must be a JSON object"))?;
    let at_ = format!("{at}.");
    if let Some(k) = obj
        .keys()
        .find(|k| !ATTRIBUTE_KEYS.iter().any(|a| a.eq_ignore_ascii_case(k)))
    {
        return Err(bad(
            &format!("{at_}{k}"),
            format!(
                "is not a characteristic of an attribute ({})",
                ATTRIBUTE_KEYS.join(", ")
            ),
        ));
    }
    let name = text(obj, "name", &at_)?.ok_or_else(|| bad(&format!("{at_}name"), "is required"))?;
    if !valid_name(&name) {
        return Err(bad(
            &format!("{at_}name"),
            format!(
                "`{name}` is not an attribute name: a letter, then letters, digits, `-` or `_`, \
                 at most 64"
            ),
        ));
    }
    if get(obj, "type").and_then(Value::as_str) == Some("binary") {
        return Err(bad(
            &format!("{at_}type"),
            "binary attributes are not supported",
        ));
    }
    let kind = match get(obj, "type") {
        None => return Err(bad(&format!("{at_}type"), "is required")),
        Some(_) => choice(
            obj,
            "type",
            &at_,
            &TYPES,
            AttrType::as_str,
            AttrType::String,
        )?,
    };
    let mutability = choice(
        obj,
        "mutability",
        &at_,
        &MUTABILITIES,
        Mutability::as_str,
        Mutability::ReadWrite,
    )?;
    let returned = choice(
        obj,
        "returned",
        &at_,
        &RETURNS,
        Returned::as_str,
        Returned::Default,
    )?;
    let uniqueness = choice(
        obj,
        "uniqueness",
        &at_,
        &UNIQUENESS,
        Uniqueness::as_str,
        Uniqueness::None,
    )?;
    let multi_valued = flag(obj, "multiValued", &at_)?;
    let required = flag(obj, "required", &at_)?;
    let canonical_values = strings(obj, "canonicalValues", &at_, MAX_CANONICAL_VALUES)?;
    let reference_types = strings(obj, "referenceTypes", &at_, 16)?;
    if !canonical_values.is_empty() && kind != AttrType::String {
        return Err(bad(
            &format!("{at_}canonicalValues"),
            "only a string attribute may list canonical values",
        ));
    }
    if !reference_types.is_empty() && kind != AttrType::Reference {
        return Err(bad(
            &format!("{at_}referenceTypes"),
            "only a reference attribute has reference types",
        ));
    }
    if required && mutability == Mutability::ReadOnly {
        return Err(bad(
            &format!("{at_}required"),
            "a readOnly attribute cannot be required: no client could set it",
        ));
    }
    if uniqueness != Uniqueness::None {
        let indexable = matches!(
            kind,
            AttrType::String | AttrType::Reference | AttrType::Integer
        );
        if !top || multi_valued || !indexable {
            return Err(bad(
                &format!("{at_}uniqueness"),
                "only a singular top-level string, reference or integer attribute may be unique",
            ));
        }
    }
    let sub_attributes = match (kind, get(obj, "subAttributes")) {
        (AttrType::Complex, _) if !top => {
            return Err(bad(
                &format!("{at_}type"),
                "sub-attributes cannot be complex (one level of sub-attributes)",
            ));
        }
        (AttrType::Complex, Some(Value::Array(subs))) if !subs.is_empty() => {
            let mut out: Vec<ExtAttr> = Vec::with_capacity(subs.len());
            for (i, s) in subs.iter().enumerate() {
                let sub = attribute(s, &format!("{at_}subAttributes[{i}]"), false)?;
                if out.iter().any(|o| o.name.eq_ignore_ascii_case(&sub.name)) {
                    return Err(bad(
                        &format!("{at_}subAttributes[{i}].name"),
                        format!("`{}` is defined twice", sub.name),
                    ));
                }
                out.push(sub);
            }
            out
        }
        (AttrType::Complex, _) => {
            return Err(bad(
                &format!("{at_}subAttributes"),
                "a complex attribute needs at least one sub-attribute",
            ));
        }
        (_, Some(_)) => {
            return Err(bad(
                &format!("{at_}subAttributes"),
                "only a complex attribute has sub-attributes",
            ));
        }
        (_, None) => Vec::new(),
    };
    Ok(ExtAttr {
        name,
        kind,
        multi_valued,
        required,
        case_exact: flag(obj, "caseExact", &at_)?,
        mutability,
        returned,
        uniqueness,
        canonical_values,
        reference_types: if kind == AttrType::Reference && reference_types.is_empty() {
            vec!["external".to_owned()]
        } else {
            reference_types
        },
        description: text(obj, "description", &at_)?,
        sub_attributes,
    })
}

/// A value that does not fit its attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

/// Checks `value` against `attr` (type, list or single, canonical values, sub-attributes,
/// bounds). Mutability, `required` and uniqueness depend on the request and the stored
/// resource, and are checked where those are known.
pub fn check_value(attr: &ExtAttr, value: &Value) -> Result<(), ValueError> {
    if attr.multi_valued {
        let items = value.as_array().ok_or_else(|| {
            ValueError(format!(
                "`{}` is multi-valued: its value must be an array",
                attr.name
            ))
        })?;
        if items.len() > MAX_VALUES {
            return Err(ValueError(format!(
                "`{}` has more than {MAX_VALUES} values",
                attr.name
            )));
        }
        return items.iter().try_for_each(|v| check_one(attr, v));
    }
    check_one(attr, value)
}

fn check_one(attr: &ExtAttr, v: &Value) -> Result<(), ValueError> {
    let name = &attr.name;
    let wrong = |what: &str| ValueError(format!("`{name}` must be {what}"));
    match attr.kind {
        AttrType::String | AttrType::Reference => {
            let s = v.as_str().ok_or_else(|| wrong("a string"))?;
            let max = if attr.uniqueness == Uniqueness::None {
                MAX_STRING_BYTES
            } else {
                MAX_NAME_BYTES
            };
            if s.len() > max {
                return Err(ValueError(format!("`{name}` is longer than {max} bytes")));
            }
            if !attr.canonical_values.is_empty()
                && !attr.canonical_values.iter().any(|c| {
                    if attr.case_exact {
                        c == s
                    } else {
                        c.eq_ignore_ascii_case(s)
                    }
                })
            {
                return Err(ValueError(format!(
                    "`{name}` must be one of {}",
                    attr.canonical_values.join(", ")
                )));
            }
            Ok(())
        }
        AttrType::Boolean => v
            .as_bool()
            .map(|_| ())
            .ok_or_else(|| wrong("true or false")),
        AttrType::Integer => v
            .as_i64()
            .map(|_| ())
            .ok_or_else(|| wrong("an integer (without a fraction)")),
        AttrType::Decimal => v
            .as_f64()
            .filter(|f| f.is_finite())
            .map(|_| ())
            .ok_or_else(|| wrong("a number")),
        AttrType::DateTime => {
            let s = v.as_str().ok_or_else(|| wrong("an xsd:dateTime string"))?;
            if is_date_time(s) {
                Ok(())
            } else {
                Err(wrong("an xsd:dateTime such as 2026-12-06T09:30:00Z"))
            }
        }
        AttrType::Complex => {
            let obj = v.as_object().ok_or_else(|| wrong("an object"))?;
            for (k, sub_value) in obj {
                if sub_value.is_null() {
                    continue;
                }
                let sub = attr
                    .sub(k)
                    .ok_or_else(|| ValueError(format!("`{name}` has no sub-attribute `{k}`")))?;
                check_value(sub, sub_value)?;
            }
            Ok(())
        }
        AttrType::Binary => Err(wrong("a supported type")),
    }
}

/// xsd:dateTime as SCIM clients send it: `YYYY-MM-DDThh:mm:ss`, an optional fraction,
/// and `Z` or an offset (RFC 7643 §2.3.5).
fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || b[10] != b'T'
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let month = (b[5] - b'0') * 10 + (b[6] - b'0');
    let day = (b[8] - b'0') * 10 + (b[9] - b'0');
    let hour = (b[11] - b'0') * 10 + (b[12] - b'0');
    let minute = (b[14] - b'0') * 10 + (b[15] - b'0');
    let second = (b[17] - b'0') * 10 + (b[18] - b'0');
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest.as_bytes() {
        [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const URN: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";

    fn schema(attributes: Value) -> Result<ExtensionSchema, DefinitionError> {
        parse(&json!({"id": URN, "name": "Acme", "attributes": attributes}))
    }

    fn error_at(attributes: Value) -> String {
        schema(attributes).unwrap_err().at
    }

    #[test]
    fn a_cost_center_extension_reads_with_defaults_made_explicit() {
        let s = schema(json!([
            {"name": "costCenter", "type": "string", "uniqueness": "server"},
            {"name": "badgeNumber", "type": "integer", "required": true},
            {"name": "region", "type": "string", "canonicalValues": ["EMEA", "APAC", "AMER"]},
            {"name": "hired", "type": "dateTime", "mutability": "immutable"},
            {"name": "office", "type": "complex", "subAttributes": [
                {"name": "building", "type": "string"},
                {"name": "floor", "type": "integer"}
            ]},
            {"name": "manager", "type": "reference"},
            {"name": "tags", "type": "string", "multiValued": true, "returned": "request"},
        ]))
        .unwrap();
        assert_eq!(s.id, URN);
        let cc = s.attr("COSTCENTER").unwrap();
        assert_eq!(
            (
                cc.kind,
                cc.uniqueness,
                cc.mutability,
                cc.returned,
                cc.case_exact
            ),
            (
                AttrType::String,
                Uniqueness::Server,
                Mutability::ReadWrite,
                Returned::Default,
                false
            )
        );
        assert!(s.attr("badgeNumber").unwrap().required);
        assert_eq!(s.attr("manager").unwrap().reference_types, ["external"]);
        assert_eq!(
            s.attr("office").unwrap().sub("FLOOR").unwrap().kind,
            AttrType::Integer
        );
        assert!(s.attr("tags").unwrap().multi_valued);
    }

    #[test]
    fn the_explicit_form_reads_back_as_the_same_schema() {
        let s = schema(json!([
            {"name": "costCenter", "type": "string", "uniqueness": "server", "description": "Where the cost goes"},
            {"name": "region", "type": "string", "canonicalValues": ["EMEA"], "caseExact": true},
            {"name": "manager", "type": "reference", "referenceTypes": ["User"]},
            {"name": "office", "type": "complex", "multiValued": true, "subAttributes": [
                {"name": "floor", "type": "integer", "returned": "request", "mutability": "immutable"}
            ]},
        ]))
        .unwrap();
        let written = s.to_json();
        assert_eq!(written["schemas"], json!([crate::SCHEMA_SCHEMA]));
        assert_eq!(written["attributes"][0]["mutability"], "readWrite");
        assert_eq!(written["attributes"][0]["returned"], "default");
        assert_eq!(
            written["attributes"][3]["subAttributes"][0]["returned"],
            "request"
        );
        assert_eq!(parse(&written).unwrap(), s);
    }

    #[test]
    fn bad_definitions_say_where_and_why() {
        let cases = [
            (json!({"attributes": []}), "id"),
            (
                json!({"id": "acme", "attributes": [{"name": "a", "type": "string"}]}),
                "id",
            ),
            (
                json!({"id": "urn:ietf:params:scim:schemas:core:2.0:User", "attributes": [{"name": "a", "type": "string"}]}),
                "id",
            ),
            (
                json!({"id": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "attributes": [{"name": "a", "type": "string"}]}),
                "id",
            ),
            (
                json!({"id": "urn:a b", "attributes": [{"name": "a", "type": "string"}]}),
                "id",
            ),
            (json!({"id": URN}), "attributes"),
            (json!({"id": URN, "attributes": []}), "attributes"),
        ];
        for (definition, at) in cases {
            let e = parse(&definition).unwrap_err();
            assert_eq!(e.at, at, "{definition}: {e}");
        }
        assert_eq!(error_at(json!([{"type": "string"}])), "attributes[0].name");
        assert_eq!(
            error_at(json!([{"name": "1st", "type": "string"}])),
            "attributes[0].name"
        );
        assert_eq!(error_at(json!([{"name": "a"}])), "attributes[0].type");
        assert_eq!(
            error_at(json!([{"name": "a", "type": "float"}])),
            "attributes[0].type"
        );
        assert_eq!(
            error_at(json!([{"name": "a", "type": "binary"}])),
            "attributes[0].type"
        );
        assert_eq!(
            error_at(json!([{"name": "a", "type": "string"}, {"name": "A", "type": "string"}])),
            "attributes[1].name"
        );
        assert_eq!(
            error_at(json!([{"name": "a", "type": "complex"}])),
            "attributes[0].subAttributes"
        );
        assert_eq!(
            error_at(
                json!([{"name": "a", "type": "string", "subAttributes": [{"name": "b", "type": "string"}]}])
            ),
            "attributes[0].subAttributes"
        );
        assert_eq!(
            error_at(json!([{"name": "a", "type": "complex", "subAttributes": [
                {"name": "b", "type": "complex", "subAttributes": [{"name": "c", "type": "string"}]}]}])),
            "attributes[0].subAttributes[0].type"
        );
        assert_eq!(
            error_at(json!([{"name": "a", "type": "integer", "canonicalValues": ["1"]}])),
            "attributes[0].canonicalValues"
        );
        assert_eq!(
            error_at(
                json!([{"name": "a", "type": "string", "multiValued": true, "uniqueness": "server"}])
            ),
            "attributes[0].uniqueness"
        );
        assert_eq!(
            error_at(json!([{"name": "a", "type": "boolean", "uniqueness": "server"}])),
            "attributes[0].uniqueness"
        );
        assert_eq!(
            error_at(
                json!([{"name": "a", "type": "string", "required": true, "mutability": "readOnly"}])
            ),
            "attributes[0].required"
        );
        assert_eq!(
            error_at(json!([{"name": "a", "type": "string", "multivalue": true}])),
            "attributes[0].multivalue"
        );
        assert_eq!(
            error_at(json!([{"name": "a", "type": "string", "mutability": "sometimes"}])),
            "attributes[0].mutability"
        );
        let too_many: Vec<Value> = (0..=MAX_EXTENSION_ATTRIBUTES)
            .map(|i| json!({"name": format!("a{i}"), "type": "string"}))
            .collect();
        assert_eq!(error_at(json!(too_many)), "attributes");
        let e = schema(json!([{"name": "a", "type": "float"}])).unwrap_err();
        assert!(e.to_string().contains("string, boolean, decimal"), "{e}");
    }

    #[test]
    fn values_are_checked_against_their_attribute() {
        let s = schema(json!([
            {"name": "costCenter", "type": "string", "uniqueness": "server"},
            {"name": "badge", "type": "integer"},
            {"name": "ratio", "type": "decimal"},
            {"name": "vip", "type": "boolean"},
            {"name": "region", "type": "string", "canonicalValues": ["EMEA", "APAC"]},
            {"name": "hired", "type": "dateTime"},
            {"name": "office", "type": "complex", "subAttributes": [{"name": "floor", "type": "integer"}]},
            {"name": "tags", "type": "string", "multiValued": true},
        ]))
        .unwrap();
        let ok = |name: &str, v: Value| check_value(s.attr(name).unwrap(), &v);
        assert!(ok("costCenter", json!("CC-1")).is_ok());
        assert!(ok("costCenter", json!(7)).is_err());
        assert!(ok("costCenter", json!("x".repeat(MAX_NAME_BYTES + 1))).is_err());
        assert!(ok("badge", json!(42)).is_ok());
        assert!(ok("badge", json!(4.2)).is_err());
        assert!(ok("badge", json!("42")).is_err());
        assert!(ok("ratio", json!(0.5)).is_ok());
        assert!(ok("ratio", json!(3)).is_ok());
        assert!(ok("vip", json!(true)).is_ok());
        assert!(ok("vip", json!("true")).is_err());
        assert!(ok("region", json!("emea")).is_ok(), "not caseExact");
        assert!(ok("region", json!("LATAM")).is_err());
        assert!(ok("hired", json!("2026-12-06T09:30:00Z")).is_ok());
        assert!(ok("hired", json!("2026-12-06T09:30:00.123+01:00")).is_ok());
        assert!(ok("hired", json!("2026-13-06T09:30:00Z")).is_err());
        assert!(ok("hired", json!("yesterday")).is_err());
        assert!(ok("office", json!({"floor": 3})).is_ok());
        assert!(ok("office", json!({"FLOOR": 3, "wing": null})).is_ok());
        assert!(ok("office", json!({"floor": "3"})).is_err());
        assert!(ok("office", json!({"room": 1})).is_err());
        assert!(ok("tags", json!(["a", "b"])).is_ok());
        assert!(ok("tags", json!("a")).is_err());
        assert!(ok("tags", json!(["a", 1])).is_err());
        let e = ok("region", json!("LATAM")).unwrap_err();
        assert_eq!(e.to_string(), "`region` must be one of EMEA, APAC");
    }
}
