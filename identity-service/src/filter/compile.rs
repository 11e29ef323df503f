//! The filter compiler: resolves names, checks operators and literal types, folds
//! literals of case-insensitive attributes, and enforces the size bounds.

use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::filter::Kind as FilterKind;
use scim_proto::identity::v1::filter_value::Kind as ValueKind;

use super::attrs::{self, Attr, Container, ResourceKind};
use super::{
    Comparison, CompiledFilter, Literal, MAX_DEPTH, MAX_FILTER_COMPARISONS, MAX_LITERAL_BYTES,
    Node, Op,
};
use crate::error::IdentityError;
use scim_model::ScimType;

/// Checks `filter` for a resource kind.
pub fn compile(kind: ResourceKind, filter: &pb::Filter) -> Result<CompiledFilter, IdentityError> {
    let mut compiler = Compiler {
        kind,
        comparisons: 0,
    };
    let root = compiler.node(filter, 1, None)?;
    Ok(CompiledFilter { root })
}

/// Checks `filter` relative to one value of `container`, as a PATCH value path
/// (`emails[type eq "work"]`) filters it.
pub fn compile_within(container: Container, filter: &pb::Filter) -> Result<Node, IdentityError> {
    let mut compiler = Compiler {
        kind: container.kind(),
        comparisons: 0,
    };
    compiler.node(filter, 2, Some(container))
}

struct Compiler {
    kind: ResourceKind,
    comparisons: usize,
}

fn bad(message: impl std::fmt::Display) -> IdentityError {
    IdentityError::refused(ScimType::InvalidFilter, format!("filter: {message}"))
}

/// An attribute name from the request, made safe to echo in an error message.
fn quoted(name: &str) -> String {
    let clean: String = name.chars().filter(|c| !c.is_control()).take(100).collect();
    format!("'{clean}'")
}

impl Compiler {
    fn node(
        &mut self,
        f: &pb::Filter,
        depth: usize,
        within: Option<Container>,
    ) -> Result<Node, IdentityError> {
        if depth > MAX_DEPTH {
            return Err(bad(format_args!("nested deeper than {MAX_DEPTH} levels")));
        }
        match f.kind.as_ref() {
            None => Err(bad("empty expression")),
            Some(FilterKind::Compare(c)) => {
                // Every other node has operands, and chains of them are bounded by the
                // depth, so counting comparisons bounds the whole tree.
                self.comparisons += 1;
                if self.comparisons > MAX_FILTER_COMPARISONS {
                    return Err(bad(format_args!(
                        "more than {MAX_FILTER_COMPARISONS} comparisons"
                    )));
                }
                self.comparison(c, within).map(Node::Compare)
            }
            Some(FilterKind::And(a)) => Ok(Node::And(self.operands(
                &a.operands,
                "and",
                depth,
                within,
            )?)),
            Some(FilterKind::Or(o)) => {
                Ok(Node::Or(self.operands(&o.operands, "or", depth, within)?))
            }
            Some(FilterKind::Not(n)) => {
                let inner = n
                    .operand
                    .as_deref()
                    .ok_or_else(|| bad("'not' needs an operand"))?;
                Ok(Node::Not(Box::new(self.node(inner, depth + 1, within)?)))
            }
            Some(FilterKind::ValuePath(vp)) => {
                if within.is_some() {
                    return Err(bad("value paths cannot be nested"));
                }
                let c = attrs::resolve_container(self.kind, &vp.attribute).ok_or_else(|| {
                    bad(format_args!(
                        "{} is not a multi-valued attribute",
                        quoted(&vp.attribute)
                    ))
                })?;
                let inner = vp
                    .filter
                    .as_deref()
                    .ok_or_else(|| bad("a value path needs a filter"))?;
                Ok(Node::ValuePath(
                    c,
                    Box::new(self.node(inner, depth + 1, Some(c))?),
                ))
            }
        }
    }

    fn operands(
        &mut self,
        operands: &[pb::Filter],
        name: &str,
        depth: usize,
        within: Option<Container>,
    ) -> Result<Vec<Node>, IdentityError> {
        if operands.is_empty() {
            return Err(bad(format_args!("'{name}' needs operands")));
        }
        operands
            .iter()
            .map(|o| self.node(o, depth + 1, within))
            .collect()
    }

    fn comparison(
        &mut self,
        c: &pb::Comparison,
        within: Option<Container>,
    ) -> Result<Comparison, IdentityError> {
        let attr = match within {
            None => attrs::resolve(self.kind, &c.attribute),
            Some(container) => attrs::resolve_relative(container, &c.attribute),
        }
        .ok_or_else(|| bad(format_args!("unknown attribute {}", quoted(&c.attribute))))?;
        let op = Op::from_proto(c.op)
            .ok_or_else(|| bad(format_args!("{} has no valid operator", attr.canonical())))?;
        let literal = literal(&attr, op, c.value.as_ref())?;
        Ok(Comparison { attr, op, literal })
    }
}

fn literal(attr: &Attr, op: Op, value: Option<&pb::FilterValue>) -> Result<Literal, IdentityError> {
    use attrs::Type;
    let name = attr.canonical();
    if attr.ty == Type::Presence && op != Op::Pr {
        return Err(bad(format_args!("{name} supports only 'pr'")));
    }
    if op == Op::Pr {
        return Ok(Literal::None);
    }
    let kind = value
        .and_then(|v| v.kind.as_ref())
        .ok_or_else(|| bad(format_args!("{name} {} needs a value", op.name())))?;
    if let ValueKind::NullValue(_) = kind {
        return match op {
            Op::Eq | Op::Ne => Ok(Literal::Null),
            _ => Err(bad(format_args!(
                "{name} {} cannot compare with null",
                op.name()
            ))),
        };
    }
    let ordered = !matches!(op, Op::Co | Op::Sw | Op::Ew);
    match attr.ty {
        Type::Str => match kind {
            ValueKind::StringValue(s) if s.len() <= MAX_LITERAL_BYTES => {
                Ok(Literal::Str(if attr.case_exact {
                    s.clone()
                } else {
                    s.to_lowercase()
                }))
            }
            ValueKind::StringValue(_) => Err(bad(format_args!(
                "the value compared with {name} is longer than {MAX_LITERAL_BYTES} bytes"
            ))),
            _ => Err(bad(format_args!("{name} compares with a string"))),
        },
        Type::Bool => match kind {
            ValueKind::BoolValue(b) if matches!(op, Op::Eq | Op::Ne) => Ok(Literal::Bool(*b)),
            ValueKind::BoolValue(_) => Err(bad(format_args!(
                "{name} supports only 'eq', 'ne' and 'pr'"
            ))),
            _ => Err(bad(format_args!("{name} compares with a boolean"))),
        },
        Type::Time if ordered => match kind {
            ValueKind::DateValue(ts) => Ok(Literal::Time(ts.seconds, ts.nanos)),
            ValueKind::StringValue(s) => chrono::DateTime::parse_from_rfc3339(s.trim())
                .map(|t| Literal::Time(t.timestamp(), t.timestamp_subsec_nanos() as i32))
                .map_err(|_| bad(format_args!("{name} compares with an RFC 3339 date-time"))),
            _ => Err(bad(format_args!("{name} compares with a date-time"))),
        },
        Type::Version if ordered => match kind {
            ValueKind::NumberValue(n) if n.is_finite() && n.fract() == 0.0 => {
                Ok(Literal::Int(*n as i64))
            }
            ValueKind::StringValue(s) => parse_version(s)
                .map(Literal::Int)
                .ok_or_else(|| bad(format_args!("{name} compares with a version number"))),
            _ => Err(bad(format_args!("{name} compares with a version number"))),
        },
        Type::Time | Type::Version => {
            Err(bad(format_args!("{name} does not support '{}'", op.name())))
        }
        Type::Presence => Err(bad(format_args!("{name} supports only 'pr'"))),
    }
}

/// `3`, `"3"` or the ETag form `W/"3"`.
fn parse_version(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s.strip_prefix("W/").unwrap_or(s);
    s.trim_matches('"').parse().ok()
}
