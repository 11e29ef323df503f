//! The one format of `scim.filter_shape`, the filter a SCIM list asked for without its
//! values: `userName eq ?`, `emails[type eq ? and value co ?]`, `title pr`,
//! `not (active eq ?) or displayName sw ?`. The gateway records it on its request span
//! and identity-service on its call span, from the same wire filter, so one query reads
//! the same in both services' spans and can be grouped on.

use scim_proto::identity::v1::{self as pb, filter::Kind};

/// The longest shape written, in bytes; a longer one ends in `…`. Filters are bounded
/// already; this bounds an attribute worth of span per request.
pub const MAX_SHAPE_LEN: usize = 240;

/// The SCIM name of a comparison operator.
pub fn op_name(op: pb::CompareOp) -> &'static str {
    use pb::CompareOp::*;
    match op {
        Eq => "eq",
        Ne => "ne",
        Co => "co",
        Sw => "sw",
        Ew => "ew",
        Gt => "gt",
        Ge => "ge",
        Lt => "lt",
        Le => "le",
        Pr => "pr",
        Unspecified => "?",
    }
}

/// `f` without its values, in SCIM filter syntax with every value replaced by `?`.
pub fn filter_shape(f: &pb::Filter) -> String {
    let mut out = String::new();
    write(f, &mut out, false);
    if out.len() > MAX_SHAPE_LEN {
        let mut end = MAX_SHAPE_LEN;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
}

fn write(f: &pb::Filter, out: &mut String, parenthesise_or: bool) {
    if out.len() > MAX_SHAPE_LEN {
        return;
    }
    match &f.kind {
        Some(Kind::Compare(c)) => {
            out.push_str(&c.attribute);
            out.push(' ');
            let op = pb::CompareOp::try_from(c.op).unwrap_or(pb::CompareOp::Unspecified);
            out.push_str(op_name(op));
            if op != pb::CompareOp::Pr {
                out.push_str(" ?");
            }
        }
        Some(Kind::And(a)) => join(&a.operands, " and ", true, out),
        Some(Kind::Or(o)) => {
            if parenthesise_or {
                out.push('(');
            }
            join(&o.operands, " or ", false, out);
            if parenthesise_or {
                out.push(')');
            }
        }
        Some(Kind::Not(n)) => {
            out.push_str("not (");
            if let Some(inner) = n.operand.as_deref() {
                write(inner, out, false);
            }
            out.push(')');
        }
        Some(Kind::ValuePath(v)) => {
            out.push_str(&v.attribute);
            out.push('[');
            if let Some(inner) = v.filter.as_deref() {
                write(inner, out, false);
            }
            out.push(']');
        }
        None => out.push('?'),
    }
}

fn join(operands: &[pb::Filter], sep: &str, parenthesise_or: bool, out: &mut String) {
    for (i, o) in operands.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        write(o, out, parenthesise_or);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(attribute: &str, op: pb::CompareOp) -> pb::Filter {
        pb::Filter {
            kind: Some(Kind::Compare(pb::Comparison {
                attribute: attribute.into(),
                op: op as i32,
                ..Default::default()
            })),
        }
    }

    #[test]
    fn values_become_question_marks_and_structure_stays() {
        use pb::CompareOp::*;
        assert_eq!(filter_shape(&cmp("userName", Eq)), "userName eq ?");
        assert_eq!(filter_shape(&cmp("title", Pr)), "title pr");
        let or = pb::Filter {
            kind: Some(Kind::Or(pb::OrFilter {
                operands: vec![cmp("a", Eq), cmp("b", Sw)],
            })),
        };
        let and = pb::Filter {
            kind: Some(Kind::And(pb::AndFilter {
                operands: vec![or.clone(), cmp("c", Gt)],
            })),
        };
        assert_eq!(filter_shape(&and), "(a eq ? or b sw ?) and c gt ?");
        let not = pb::Filter {
            kind: Some(Kind::Not(Box::new(pb::NotFilter {
                operand: Some(Box::new(cmp("active", Eq))),
            }))),
        };
        assert_eq!(filter_shape(&not), "not (active eq ?)");
        let path = pb::Filter {
            kind: Some(Kind::ValuePath(Box::new(pb::ValuePathFilter {
                attribute: "emails".into(),
                filter: Some(Box::new(and)),
            }))),
        };
        assert_eq!(filter_shape(&path), "emails[(a eq ? or b sw ?) and c gt ?]");
    }

    #[test]
    fn long_shapes_are_cut() {
        let many = pb::Filter {
            kind: Some(Kind::Or(pb::OrFilter {
                operands: (0..100)
                    .map(|_| cmp("displayName", pb::CompareOp::Eq))
                    .collect(),
            })),
        };
        let shape = filter_shape(&many);
        assert!(
            shape.len() <= MAX_SHAPE_LEN + '…'.len_utf8(),
            "{}",
            shape.len()
        );
        assert!(shape.ends_with('…'));
    }
}
