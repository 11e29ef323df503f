//! Filters: the typed `identity.v1.Filter` tree, checked once and evaluated in Rust.
//!
//! Execution plan for a filtered list:
//!
//! 1. [`compile`] resolves every attribute name (case-insensitively, see [`attrs`]),
//!    checks operators and literal types, folds literals of `caseExact=false`
//!    attributes to lower case, and enforces [`MAX_DEPTH`] and [`MAX_TERMS`]. Any
//!    problem is INVALID_ARGUMENT before the database is touched.
//! 2. [`plan::index_key`] looks for an `eq` that an index can answer: the whole filter,
//!    or an operand of a top-level `and`, on `id`, `userName`, `externalId`,
//!    `displayName`, an e-mail value (`emails.value`, `emails[value eq ..]`) or a group
//!    member value. Only those candidate rows are loaded.
//! 3. Without such an `eq`, the tenant's rows are scanned in `seq` order, in batches.
//! 4. Either way, every candidate is decoded and the one evaluator in [`eval`] decides
//!    (RFC 7644 §3.4.2.2 semantics), so the index only narrows and never changes the
//!    answer.

pub mod attrs;
pub mod eval;
pub mod plan;

use prost::Message as _;
use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::filter::Kind as FilterKind;
use scim_proto::identity::v1::filter_value::Kind as ValueKind;

pub use attrs::{Attr, Container, ResourceKind};
pub use eval::Target;

use crate::error::IdentityError;

/// Deepest nesting of `and`/`or`/`not`/value paths accepted.
pub const MAX_DEPTH: usize = 16;
/// Most terms (nodes) a filter may have.
pub const MAX_TERMS: usize = 256;
/// Longest string literal accepted, in bytes.
pub const MAX_LITERAL_BYTES: usize = 4096;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `eq`.
    Eq,
    /// `ne`.
    Ne,
    /// `co`.
    Co,
    /// `sw`.
    Sw,
    /// `ew`.
    Ew,
    /// `gt`.
    Gt,
    /// `ge`.
    Ge,
    /// `lt`.
    Lt,
    /// `le`.
    Le,
    /// `pr`.
    Pr,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Co => "co",
            Op::Sw => "sw",
            Op::Ew => "ew",
            Op::Gt => "gt",
            Op::Ge => "ge",
            Op::Lt => "lt",
            Op::Le => "le",
            Op::Pr => "pr",
        }
    }

    fn from_proto(op: i32) -> Option<Op> {
        Some(match pb::CompareOp::try_from(op).ok()? {
            pb::CompareOp::Unspecified => return None,
            pb::CompareOp::Eq => Op::Eq,
            pb::CompareOp::Ne => Op::Ne,
            pb::CompareOp::Co => Op::Co,
            pb::CompareOp::Sw => Op::Sw,
            pb::CompareOp::Ew => Op::Ew,
            pb::CompareOp::Gt => Op::Gt,
            pb::CompareOp::Ge => Op::Ge,
            pb::CompareOp::Lt => Op::Lt,
            pb::CompareOp::Le => Op::Le,
            pb::CompareOp::Pr => Op::Pr,
        })
    }
}

/// A checked literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string, already folded to lower case for `caseExact=false` attributes.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// A point in time: seconds and nanoseconds since the epoch.
    Time(i64, i32),
    /// An integer (`meta.version`).
    Int(i64),
    /// JSON `null`.
    Null,
    /// No literal (`pr`).
    None,
}

/// `attribute op literal`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The attribute.
    pub attr: Attr,
    /// The operator.
    pub op: Op,
    /// The literal.
    pub literal: Literal,
}

/// A node of a checked filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A comparison.
    Compare(Comparison),
    /// All operands match.
    And(Vec<Node>),
    /// Any operand matches.
    Or(Vec<Node>),
    /// The operand does not match.
    Not(Box<Node>),
    /// Some value of the container matches the inner filter.
    ValuePath(Container, Box<Node>),
}

/// A filter that passed [`compile`].
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledFilter {
    root: Node,
}

impl CompiledFilter {
    /// The root node.
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// Whether `target` matches.
    pub fn matches<T: Target + ?Sized>(&self, target: &T) -> bool {
        eval::matches(&self.root, target)
    }

    /// Whether evaluation needs a user's `groups` or a group's `members`.
    pub fn needs_related(&self) -> bool {
        fn walk(n: &Node) -> bool {
            match n {
                Node::Compare(c) => matches!(
                    c.attr.path,
                    attrs::Path::Each(Container::Groups | Container::Members, _)
                ),
                Node::And(ns) | Node::Or(ns) => ns.iter().any(walk),
                Node::Not(n) => walk(n),
                Node::ValuePath(c, _) => matches!(c, Container::Groups | Container::Members),
            }
        }
        walk(&self.root)
    }

    /// The filter's shape without its values, for spans: `and(userName eq, emails[type eq])`.
    pub fn shape(&self) -> String {
        fn walk(n: &Node, out: &mut String) {
            if out.len() > 240 {
                return;
            }
            let list = |name: &str, ns: &[Node], out: &mut String| {
                out.push_str(name);
                out.push('(');
                for (i, n) in ns.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    walk(n, out);
                }
                out.push(')');
            };
            match n {
                Node::Compare(c) => {
                    out.push_str(c.attr.canonical);
                    out.push(' ');
                    out.push_str(c.op.name());
                }
                Node::And(ns) => list("and", ns, out),
                Node::Or(ns) => list("or", ns, out),
                Node::Not(n) => list("not", std::slice::from_ref(n.as_ref()), out),
                Node::ValuePath(c, inner) => {
                    out.push_str(attrs::container_name(*c));
                    out.push('[');
                    walk(inner, out);
                    out.push(']');
                }
            }
        }
        let mut out = String::new();
        walk(&self.root, &mut out);
        out
    }
}

/// A stable fingerprint of a filter as sent (empty for none), for page tokens and the
/// cursor cache. FNV-1a over the protobuf encoding: stable across processes and builds.
pub fn fingerprint(filter: Option<&pb::Filter>) -> String {
    let Some(filter) = filter else {
        return String::new();
    };
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in filter.encode_to_vec() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Checks `filter` for a resource kind.
pub fn compile(kind: ResourceKind, filter: &pb::Filter) -> Result<CompiledFilter, IdentityError> {
    let mut compiler = Compiler { kind, terms: 0 };
    let root = compiler.node(filter, 1, None)?;
    Ok(CompiledFilter { root })
}

struct Compiler {
    kind: ResourceKind,
    terms: usize,
}

fn bad(message: impl std::fmt::Display) -> IdentityError {
    IdentityError::invalid(format!("filter: {message}"))
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
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(bad(format_args!("more than {MAX_TERMS} terms")));
        }
        match f.kind.as_ref() {
            None => Err(bad("empty expression")),
            Some(FilterKind::Compare(c)) => self.comparison(c, within).map(Node::Compare),
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
            .ok_or_else(|| bad(format_args!("{} has no valid operator", attr.canonical)))?;
        let literal = literal(&attr, op, c.value.as_ref())?;
        Ok(Comparison { attr, op, literal })
    }
}

fn literal(attr: &Attr, op: Op, value: Option<&pb::FilterValue>) -> Result<Literal, IdentityError> {
    use attrs::Type;
    let name = attr.canonical;
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

#[cfg(test)]
mod tests;
