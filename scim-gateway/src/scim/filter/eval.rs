//! Evaluates a value filter (the part inside `attr[...]`) against one element of a
//! multi-valued attribute in SCIM JSON. Used by PATCH to pick its targets.

use std::cmp::Ordering;

use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::filter::Kind;
use scim_proto::identity::v1::filter_value::Kind as ValueKind;
use serde_json::Value;

use crate::scim::json::get_ci;
use scim_model::AttrDef;

/// Whether `element` (one value of `parent`) matches `f`, whose attribute names are
/// sub-attributes of `parent`. Strings compare case-insensitively unless the
/// sub-attribute is `caseExact`.
pub(crate) fn matches(f: &pb::Filter, element: &Value, parent: &'static AttrDef) -> bool {
    match &f.kind {
        Some(Kind::Compare(c)) => compare(c, element, parent),
        Some(Kind::And(a)) => a.operands.iter().all(|o| matches(o, element, parent)),
        Some(Kind::Or(o)) => o.operands.iter().any(|o| matches(o, element, parent)),
        Some(Kind::Not(n)) => !n
            .operand
            .as_deref()
            .is_some_and(|o| matches(o, element, parent)),
        // Value paths cannot nest; an element never matches one.
        Some(Kind::ValuePath(_)) | None => false,
    }
}

fn compare(c: &pb::Comparison, element: &Value, parent: &'static AttrDef) -> bool {
    use pb::CompareOp::*;
    let actual = element
        .as_object()
        .and_then(|o| get_ci(o, &c.attribute))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null());
    let op = pb::CompareOp::try_from(c.op).unwrap_or(Unspecified);
    if op == Pr {
        return actual.is_some_and(|v| match v {
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        });
    }
    let expected = c.value.as_ref().and_then(|v| v.kind.as_ref());
    let case_exact = parent.sub(&c.attribute).is_some_and(|d| d.case_exact);
    let Some(expected) = expected else {
        return false;
    };
    if let ValueKind::NullValue(_) = expected {
        return match op {
            Eq => actual.is_none(),
            Ne => actual.is_some(),
            _ => false,
        };
    }
    let Some(actual) = actual else {
        return op == Ne;
    };
    match (actual, expected) {
        (Value::String(a), ValueKind::StringValue(e)) => {
            let (a, e) = if case_exact {
                (a.clone(), e.clone())
            } else {
                (a.to_lowercase(), e.to_lowercase())
            };
            match op {
                Co => a.contains(&e),
                Sw => a.starts_with(&e),
                Ew => a.ends_with(&e),
                _ => ordered(op, a.cmp(&e)),
            }
        }
        (a, ValueKind::BoolValue(e)) => match crate::scim::json::lenient_bool(a) {
            Some(a) => matches!(op, Eq if a == *e) || matches!(op, Ne if a != *e),
            None => op == Ne,
        },
        (Value::Number(a), ValueKind::NumberValue(e)) => a
            .as_f64()
            .and_then(|a| a.partial_cmp(e))
            .is_some_and(|o| ordered(op, o)),
        _ => op == Ne,
    }
}

fn ordered(op: pb::CompareOp, o: Ordering) -> bool {
    use pb::CompareOp::*;
    match op {
        Eq => o == Ordering::Equal,
        Ne => o != Ordering::Equal,
        Gt => o == Ordering::Greater,
        Ge => o != Ordering::Less,
        Lt => o == Ordering::Less,
        Le => o != Ordering::Greater,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::filter::parse_within;
    use scim_model::{GROUP, ResourceKind, USER};

    fn emails() -> &'static AttrDef {
        USER.attr("emails").unwrap()
    }

    fn check(filter: &str, element: Value) -> bool {
        let f = parse_within(filter, ResourceKind::User, emails()).unwrap();
        matches(&f, &element, emails())
    }

    #[test]
    fn string_operators_ignore_case_for_case_insensitive_subs() {
        let e = json!({"type": "Work", "value": "Ann@Example.com", "primary": true});
        assert!(check(r#"type eq "work""#, e.clone()));
        assert!(!check(r#"type ne "work""#, e.clone()));
        assert!(check(r#"value co "@example""#, e.clone()));
        assert!(check(r#"value sw "ann""#, e.clone()));
        assert!(check(r#"value ew ".COM""#, e.clone()));
        assert!(check(r#"value gt "a""#, e.clone()));
        assert!(check(r#"value ge "ann@example.com""#, e.clone()));
        assert!(check(r#"value lt "b""#, e.clone()));
        assert!(check(r#"value le "ann@example.com""#, e.clone()));
        assert!(!check(r#"value lt "ann""#, e.clone()));
        assert!(check("primary eq true", e.clone()));
        assert!(check(r#"primary eq "True""#, e.clone()));
        assert!(check("display pr or value pr", e.clone()));
        assert!(!check("display pr", e.clone()));
        assert!(check("display eq null", e.clone()));
        assert!(check(r#"not (type eq "home") and value pr"#, e));
    }

    #[test]
    fn case_exact_subs_compare_exactly() {
        let members = GROUP.attr("members").unwrap();
        // Member values are ids, which are case-exact; `type` is not.
        let f = parse_within(r#"value eq "abc""#, ResourceKind::Group, members).unwrap();
        assert!(matches(&f, &json!({"value": "abc"}), members));
        assert!(!matches(&f, &json!({"value": "ABC"}), members));
        let f = parse_within(r#"type eq "user""#, ResourceKind::Group, members).unwrap();
        assert!(matches(&f, &json!({"type": "User"}), members));
    }

    #[test]
    fn missing_attributes_match_only_ne() {
        let e = json!({"value": "x"});
        assert!(!check(r#"type eq "work""#, e.clone()));
        assert!(check(r#"type ne "work""#, e));
    }
}
