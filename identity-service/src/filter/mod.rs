//! Filters: the typed `identity.v1.Filter` tree, checked once and evaluated in Rust.
//!
//! Execution plan for a filtered list:
//!
//! 1. [`compile`] resolves every attribute name (case-insensitively, see [`attrs`]),
//!    checks operators and literal types, folds literals of `caseExact=false`
//!    attributes to lower case, and enforces [`MAX_DEPTH`] and [`MAX_FILTER_COMPARISONS`]. Any
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
mod compile;
pub mod eval;
pub mod plan;

use prost::Message as _;
use scim_proto::identity::v1 as pb;

pub use attrs::{Attr, Container, ResourceKind};
pub use compile::{compile, compile_within};
pub use eval::Target;

pub use scim_model::limits::{
    MAX_FILTER_COMPARISONS, MAX_FILTER_DEPTH as MAX_DEPTH, MAX_STRING_BYTES as MAX_LITERAL_BYTES,
};

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
    pub(crate) fn name(self) -> &'static str {
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

    pub(crate) fn from_proto(op: i32) -> Option<Op> {
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
                    attrs::Path::At(attrs::Stored::Each(
                        Container::Groups | Container::Members,
                        _
                    ))
                ),
                Node::And(ns) | Node::Or(ns) => ns.iter().any(walk),
                Node::Not(n) => walk(n),
                Node::ValuePath(c, _) => matches!(c, Container::Groups | Container::Members),
            }
        }
        walk(&self.root)
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

#[cfg(test)]
mod tests;
