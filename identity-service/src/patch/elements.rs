//! The values of multi-valued attributes as PATCH edits them: one trait over
//! `pb::MultiValue` and `pb::Address`, so each rule is written once for both.

use scim_model::stored::{Container, Field};
use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::filter::Kind;
use scim_proto::identity::v1::filter_value::Kind as ValueKind;

use crate::filter::eval::Elem;

/// A value of a multi-valued attribute.
pub(super) trait Element: Default + Clone {
    /// Writes every sub-attribute `e` carries.
    fn merge(&mut self, e: &pb::PatchElement);
    /// Sets (`Some`) or clears (`None`) one sub-attribute; `false` if it has none such.
    fn set(&mut self, field: Field, value: Option<Scalar>) -> bool;
    /// The `value` sub-attribute, where there is one.
    fn value(&self) -> Option<&str>;
    /// Whether the value is primary.
    fn primary(&self) -> bool;
    /// Drops the primary mark.
    fn unmark(&mut self);
    /// The value as the filter evaluator reads it.
    fn as_elem(&self) -> Elem<'_>;
}

/// A sub-attribute value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Scalar {
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
}

fn text(slot: &mut Option<String>, from: &Option<String>) {
    if let Some(v) = from {
        *slot = (!v.is_empty()).then(|| v.clone());
    }
}

fn put(slot: &mut Option<String>, value: Option<Scalar>) -> bool {
    match value {
        None => *slot = None,
        Some(Scalar::Str(s)) => *slot = (!s.is_empty()).then_some(s),
        Some(Scalar::Bool(_)) => return false,
    }
    true
}

fn flag(slot: &mut bool, value: Option<Scalar>) -> bool {
    match value {
        None => *slot = false,
        Some(Scalar::Bool(b)) => *slot = b,
        Some(Scalar::Str(_)) => return false,
    }
    true
}

impl Element for pb::MultiValue {
    fn merge(&mut self, e: &pb::PatchElement) {
        if let Some(v) = &e.value {
            self.value = v.clone();
        }
        text(&mut self.display, &e.display);
        text(&mut self.r#type, &e.r#type);
        if let Some(p) = e.primary {
            self.primary = p;
        }
    }

    fn set(&mut self, field: Field, value: Option<Scalar>) -> bool {
        match field {
            Field::Value => match value {
                None => self.value.clear(),
                Some(Scalar::Str(s)) => self.value = s,
                Some(Scalar::Bool(_)) => return false,
            },
            Field::Display => return put(&mut self.display, value),
            Field::Type => return put(&mut self.r#type, value),
            Field::Primary => return flag(&mut self.primary, value),
            _ => return false,
        }
        true
    }

    fn value(&self) -> Option<&str> {
        Some(&self.value)
    }

    fn primary(&self) -> bool {
        self.primary
    }

    fn unmark(&mut self) {
        self.primary = false;
    }

    fn as_elem(&self) -> Elem<'_> {
        Elem::Multi(self)
    }
}

impl Element for pb::Address {
    fn merge(&mut self, e: &pb::PatchElement) {
        text(&mut self.formatted, &e.formatted);
        text(&mut self.street_address, &e.street_address);
        text(&mut self.locality, &e.locality);
        text(&mut self.region, &e.region);
        text(&mut self.postal_code, &e.postal_code);
        text(&mut self.country, &e.country);
        text(&mut self.r#type, &e.r#type);
        if let Some(p) = e.primary {
            self.primary = p;
        }
    }

    fn set(&mut self, field: Field, value: Option<Scalar>) -> bool {
        match field {
            Field::Formatted => put(&mut self.formatted, value),
            Field::StreetAddress => put(&mut self.street_address, value),
            Field::Locality => put(&mut self.locality, value),
            Field::Region => put(&mut self.region, value),
            Field::PostalCode => put(&mut self.postal_code, value),
            Field::Country => put(&mut self.country, value),
            Field::Type => put(&mut self.r#type, value),
            Field::Primary => flag(&mut self.primary, value),
            _ => false,
        }
    }

    fn value(&self) -> Option<&str> {
        None
    }

    fn primary(&self) -> bool {
        self.primary
    }

    fn unmark(&mut self) {
        self.primary = false;
    }

    fn as_elem(&self) -> Elem<'_> {
        Elem::Address(self)
    }
}

/// Whether `c`'s `value` compares case-exactly (the catalogue's caseExact).
pub(super) fn value_case_exact(c: Container) -> bool {
    c.relative("value")
        .is_some_and(|(p, _)| p.leaf().case_exact)
}

/// Whether two values are the same value, compared case-exactly or not as `exact`
/// (from [`value_case_exact`]) says; values without a `value`, such as addresses, are
/// never the same.
pub(super) fn same<E: Element>(exact: bool, a: &E, b: &E) -> bool {
    match (a.value(), b.value()) {
        (Some(x), Some(y)) if x.is_empty() || y.is_empty() => false,
        (Some(x), Some(y)) if exact => x == y,
        (Some(x), Some(y)) => x.to_lowercase() == y.to_lowercase(),
        _ => false,
    }
}

/// Keeps at most one primary value: the one at `keep` wins (RFC 7643 §2.4).
pub(super) fn single_primary<E: Element>(list: &mut [E], keep: usize) {
    if !list.get(keep).is_some_and(Element::primary) {
        return;
    }
    for (i, e) in list.iter_mut().enumerate() {
        if i != keep {
            e.unmark();
        }
    }
}

/// A value built from `e`.
pub(super) fn from_patch<E: Element>(e: &pb::PatchElement) -> E {
    let mut out = E::default();
    out.merge(e);
    out
}

/// The `attr eq value` pairs of a filter made only of `eq` comparisons joined by `and`,
/// as the start of a value a filtered write creates; `None` for any other filter.
pub(super) fn seed(c: Container, f: &pb::Filter) -> Option<pb::PatchElement> {
    let mut out = pb::PatchElement::default();
    collect(c, f, &mut out).then_some(out)
}

fn collect(c: Container, f: &pb::Filter, out: &mut pb::PatchElement) -> bool {
    match &f.kind {
        Some(Kind::Compare(cmp)) if cmp.op == pb::CompareOp::Eq as i32 => {
            let Some((_, field)) = c.relative(&cmp.attribute) else {
                return false;
            };
            let value = match cmp.value.as_ref().and_then(|v| v.kind.as_ref()) {
                Some(ValueKind::StringValue(s)) => Scalar::Str(s.clone()),
                Some(ValueKind::BoolValue(b)) => Scalar::Bool(*b),
                _ => return false,
            };
            set_patch(out, field, value)
        }
        Some(Kind::And(a)) => a.operands.iter().all(|o| collect(c, o, out)),
        _ => false,
    }
}

fn set_patch(e: &mut pb::PatchElement, field: Field, value: Scalar) -> bool {
    let slot = match field {
        Field::Value => &mut e.value,
        Field::Display => &mut e.display,
        Field::Type => &mut e.r#type,
        Field::Formatted => &mut e.formatted,
        Field::StreetAddress => &mut e.street_address,
        Field::Locality => &mut e.locality,
        Field::Region => &mut e.region,
        Field::PostalCode => &mut e.postal_code,
        Field::Country => &mut e.country,
        Field::Primary => {
            return match value {
                Scalar::Bool(b) => {
                    e.primary = Some(b);
                    true
                }
                Scalar::Str(_) => false,
            };
        }
    };
    match value {
        Scalar::Str(s) => {
            *slot = Some(s);
            true
        }
        Scalar::Bool(_) => false,
    }
}
