//! Index narrowing: which `eq` of a filter an index can answer.
//!
//! Only an `eq` that must hold for every match qualifies: the whole filter, an operand
//! of a top-level `and` (recursively), or the `value eq` of an e-mail or member value
//! path. An `eq` under `or` or `not` never narrows. When several qualify, the most
//! selective index wins (`id` first). The evaluator still checks every candidate.

use super::attrs::{Container, Field, Path, Stored};
use super::{CompiledFilter, Literal, Node, Op};

/// A lookup one index answers. String values of case-insensitive attributes are already
/// folded, matching the `*_norm` columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexKey {
    /// `id eq`.
    Id(String),
    /// `userName eq` (folded).
    UserName(String),
    /// `externalId eq`.
    ExternalId(String),
    /// An e-mail value (folded).
    EmailValue(String),
    /// `displayName eq` (folded).
    DisplayName(String),
    /// A group member value.
    MemberValue(String),
}

impl IndexKey {
    fn rank(&self) -> u8 {
        match self {
            IndexKey::Id(_) => 0,
            IndexKey::UserName(_) => 1,
            IndexKey::ExternalId(_) => 2,
            IndexKey::EmailValue(_) => 3,
            IndexKey::DisplayName(_) => 4,
            IndexKey::MemberValue(_) => 5,
        }
    }

    /// The name of the index used, for spans.
    pub fn index_name(&self) -> &'static str {
        match self {
            IndexKey::Id(_) => "id",
            IndexKey::UserName(_) => "userName",
            IndexKey::ExternalId(_) => "externalId",
            IndexKey::EmailValue(_) => "emails.value",
            IndexKey::DisplayName(_) => "displayName",
            IndexKey::MemberValue(_) => "members.value",
        }
    }
}

/// The best index lookup for `filter`, if any.
pub fn index_key(filter: &CompiledFilter) -> Option<IndexKey> {
    top(filter.root())
}

fn best(keys: impl Iterator<Item = IndexKey>) -> Option<IndexKey> {
    keys.min_by_key(IndexKey::rank)
}

fn top(node: &Node) -> Option<IndexKey> {
    match node {
        Node::Compare(c) if c.op == Op::Eq => {
            let Literal::Str(v) = &c.literal else {
                return None;
            };
            let v = v.clone();
            match c.attr.path {
                Path::At(Stored::Id) => Some(IndexKey::Id(v)),
                Path::At(Stored::UserName) => Some(IndexKey::UserName(v)),
                Path::At(Stored::ExternalId) => Some(IndexKey::ExternalId(v)),
                Path::At(Stored::DisplayName) => Some(IndexKey::DisplayName(v)),
                Path::At(Stored::Each(Container::Emails, Field::Value)) => {
                    Some(IndexKey::EmailValue(v))
                }
                Path::At(Stored::Each(Container::Members, Field::Value)) => {
                    Some(IndexKey::MemberValue(v))
                }
                _ => None,
            }
        }
        Node::And(ns) => best(ns.iter().filter_map(top)),
        Node::ValuePath(c @ (Container::Emails | Container::Members), inner) => {
            let v = inner_value(inner)?;
            Some(match c {
                Container::Emails => IndexKey::EmailValue(v),
                _ => IndexKey::MemberValue(v),
            })
        }
        _ => None,
    }
}

/// `value eq x` inside a value path, alone or in a top-level `and`.
fn inner_value(node: &Node) -> Option<String> {
    match node {
        Node::Compare(c) if c.op == Op::Eq && c.attr.path == Path::Elem(Field::Value) => {
            match &c.literal {
                Literal::Str(v) => Some(v.clone()),
                _ => None,
            }
        }
        Node::And(ns) => ns.iter().find_map(inner_value),
        _ => None,
    }
}
