//! Recursive-descent parser for RFC 7644 §3.4.2.2 filters, producing identity.v1
//! filter trees.
//!
//! Precedence, loosest first: `or`, `and`, then `not (…)`, `(…)`, value paths and
//! comparisons. Recursion only happens through brackets, which count against
//! [`MAX_FILTER_DEPTH`], so hostile input cannot exhaust the stack.

use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::filter::Kind;
use scim_proto::identity::v1::filter_value::Kind as ValueKind;

use super::lexer::{Tok, Token, tokenize};
use super::{MAX_FILTER_COMPARISONS, MAX_FILTER_DEPTH};
use crate::error::ScimError;
use scim_model::path::{clip, resolve};
use scim_model::{AttrDef, AttrType, Mutability, ResourceKind};

pub(super) struct Parser<'a> {
    toks: Vec<Token<'a>>,
    pos: usize,
    kind: ResourceKind,
    /// The multi-valued attribute whose elements the current `[...]` filters.
    within: Option<&'static AttrDef>,
    depth: usize,
    comparisons: usize,
}

fn err(detail: impl Into<String>) -> ScimError {
    ScimError::invalid_filter(detail)
}

fn wrap(kind: Kind) -> pb::Filter {
    pb::Filter { kind: Some(kind) }
}

impl<'a> Parser<'a> {
    pub(super) fn new(
        input: &'a str,
        kind: ResourceKind,
        within: Option<&'static AttrDef>,
    ) -> Result<Self, ScimError> {
        Ok(Parser {
            toks: tokenize(input)?,
            pos: 0,
            kind,
            within,
            depth: 0,
            comparisons: 0,
        })
    }

    /// Parses the whole input as one filter.
    pub(super) fn parse_all(mut self) -> Result<pb::Filter, ScimError> {
        if self.toks.is_empty() {
            return Err(err("the filter is empty"));
        }
        let f = self.or()?;
        match self.toks.get(self.pos) {
            None => Ok(f),
            Some(t) => Err(err(format!(
                "unexpected {} at position {}",
                describe(&t.tok),
                t.pos
            ))),
        }
    }

    fn peek(&self) -> Option<&Tok<'a>> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn next(&mut self) -> Result<Token<'a>, ScimError> {
        let t = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or_else(|| err("the filter ends unexpectedly"))?;
        self.pos += 1;
        Ok(t)
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, want: Tok<'static>, what: &str) -> Result<(), ScimError> {
        let t = self.next().map_err(|_| err(format!("missing {what}")))?;
        if t.tok == want {
            Ok(())
        } else {
            Err(err(format!(
                "expected {what} at position {}, found {}",
                t.pos,
                describe(&t.tok)
            )))
        }
    }

    fn enter(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(err(format!(
                "the filter nests deeper than {MAX_FILTER_DEPTH} levels"
            )));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<pb::Filter, ScimError> {
        let mut operands = vec![self.and()?];
        while self.eat_keyword("or") {
            operands.push(self.and()?);
        }
        Ok(join(operands, |operands| {
            Kind::Or(pb::OrFilter { operands })
        }))
    }

    fn and(&mut self) -> Result<pb::Filter, ScimError> {
        let mut operands = vec![self.unary()?];
        while self.eat_keyword("and") {
            operands.push(self.unary()?);
        }
        Ok(join(operands, |operands| {
            Kind::And(pb::AndFilter { operands })
        }))
    }

    fn unary(&mut self) -> Result<pb::Filter, ScimError> {
        let t = self.next()?;
        match t.tok {
            Tok::LParen => self.group(),
            Tok::Word(w) if w.eq_ignore_ascii_case("not") => {
                self.expect(Tok::LParen, "'(' after 'not'")?;
                let inner = self.group()?;
                Ok(wrap(Kind::Not(Box::new(pb::NotFilter {
                    operand: Some(Box::new(inner)),
                }))))
            }
            Tok::Word(w) => self.attr_expr(w, t.pos),
            other => Err(err(format!(
                "expected an attribute at position {}, found {}",
                t.pos,
                describe(&other)
            ))),
        }
    }

    /// The rest of a parenthesised filter, after its `(`.
    fn group(&mut self) -> Result<pb::Filter, ScimError> {
        self.enter()?;
        let inner = self.or()?;
        self.expect(Tok::RParen, "')'")?;
        self.depth -= 1;
        Ok(inner)
    }

    fn attr_expr(&mut self, word: &'a str, pos: usize) -> Result<pb::Filter, ScimError> {
        if self.peek() == Some(&Tok::LBracket) {
            self.pos += 1;
            return self.value_path(word, pos);
        }
        let (name, def) = self.attribute(word)?;
        self.comparison(name, def)
    }

    /// `attr[filter]` with an optional `.sub op value` after the bracket.
    fn value_path(&mut self, word: &str, pos: usize) -> Result<pb::Filter, ScimError> {
        if self.within.is_some() {
            return Err(err(format!("nested value filter at position {pos}")));
        }
        let path = resolve(self.kind, word)
            .filter(|p| p.sub.is_none())
            .ok_or_else(|| unknown(word))?;
        if !(path.attr.is_complex() && path.attr.multi_valued) {
            return Err(err(format!(
                "\"{}\" is not a multi-valued complex attribute and takes no [filter]",
                path.attr.name
            )));
        }
        self.enter()?;
        self.within = Some(path.attr);
        let mut inner = self.or()?;
        self.expect(Tok::RBracket, "']'")?;
        self.depth -= 1;
        if let Some(&Tok::Word(w)) = self.peek()
            && let Some(sub) = w.strip_prefix('.')
        {
            self.pos += 1;
            let def = path.attr.sub(sub).ok_or_else(|| unknown(w))?;
            check_filterable(def, w)?;
            let cmp = self.comparison(def.name.to_owned(), def)?;
            inner = match inner.kind {
                Some(Kind::And(mut a)) => {
                    a.operands.push(cmp);
                    wrap(Kind::And(a))
                }
                _ => wrap(Kind::And(pb::AndFilter {
                    operands: vec![inner, cmp],
                })),
            };
        }
        self.within = None;
        Ok(wrap(Kind::ValuePath(Box::new(pb::ValuePathFilter {
            attribute: path.to_string(),
            filter: Some(Box::new(inner)),
        }))))
    }

    /// Resolves an attribute name in the current scope to its canonical spelling.
    fn attribute(&self, word: &str) -> Result<(String, &'static AttrDef), ScimError> {
        if let Some(parent) = self.within {
            let def = parent.sub(word).ok_or_else(|| unknown(word))?;
            check_filterable(def, word)?;
            return Ok((def.name.to_owned(), def));
        }
        let mut path = resolve(self.kind, word).ok_or_else(|| unknown(word))?;
        if path.sub.is_none() && path.attr.is_complex() {
            // `emails co "x"` means the `value` of any email (RFC 7644 §3.4.2.2).
            match path.attr.sub("value") {
                Some(v) => path.sub = Some(v),
                None => {
                    return Err(err(format!(
                        "\"{}\" is complex; name one of its sub-attributes",
                        path.attr.name
                    )));
                }
            }
        }
        let leaf = path.leaf();
        check_filterable(leaf, word)?;
        if path.attr.name == "meta" && leaf.name == "location" {
            return Err(err("meta.location cannot be used in a filter"));
        }
        Ok((path.to_string(), leaf))
    }

    fn comparison(&mut self, attribute: String, def: &AttrDef) -> Result<pb::Filter, ScimError> {
        let t = self
            .next()
            .map_err(|_| err(format!("missing operator after \"{attribute}\"")))?;
        let op = match t.tok {
            Tok::Word(w) => parse_op(w),
            _ => None,
        }
        .ok_or_else(|| {
            err(format!(
                "expected an operator at position {}, found {}",
                t.pos,
                describe(&t.tok)
            ))
        })?;
        self.comparisons += 1;
        if self.comparisons > MAX_FILTER_COMPARISONS {
            return Err(err(format!(
                "the filter has more than {MAX_FILTER_COMPARISONS} comparisons"
            )));
        }
        if op == pb::CompareOp::Pr {
            return Ok(compare(attribute, op, None));
        }
        let t = self
            .next()
            .map_err(|_| err(format!("missing value after \"{attribute}\"")))?;
        let value = match t.tok {
            Tok::Str(s) => string_value(s, def),
            Tok::Word(w) => literal(w).ok_or_else(|| {
                err(format!(
                    "the value at position {} must be a quoted string, true, false, null \
                     or a number",
                    t.pos
                ))
            })?,
            other => {
                return Err(err(format!(
                    "expected a value at position {}, found {}",
                    t.pos,
                    describe(&other)
                )));
            }
        };
        check_operands(&attribute, def, op, &value)?;
        Ok(compare(attribute, op, Some(value)))
    }
}

fn join(mut operands: Vec<pb::Filter>, make: fn(Vec<pb::Filter>) -> Kind) -> pb::Filter {
    if operands.len() == 1 {
        operands.pop().unwrap_or_default()
    } else {
        wrap(make(operands))
    }
}

fn compare(attribute: String, op: pb::CompareOp, value: Option<ValueKind>) -> pb::Filter {
    wrap(Kind::Compare(pb::Comparison {
        attribute,
        op: op as i32,
        value: value.map(|k| pb::FilterValue { kind: Some(k) }),
    }))
}

fn unknown(word: &str) -> ScimError {
    err(format!("unknown attribute \"{}\"", clip(word)))
}

fn check_filterable(def: &AttrDef, word: &str) -> Result<(), ScimError> {
    if def.name == "$ref" || def.mutability == Mutability::WriteOnly {
        return Err(err(format!(
            "attribute \"{}\" cannot be used in a filter",
            clip(word)
        )));
    }
    Ok(())
}

fn parse_op(w: &str) -> Option<pb::CompareOp> {
    use pb::CompareOp::*;
    Some(match w.to_ascii_lowercase().as_str() {
        "eq" => Eq,
        "ne" => Ne,
        "co" => Co,
        "sw" => Sw,
        "ew" => Ew,
        "gt" => Gt,
        "ge" => Ge,
        "lt" => Lt,
        "le" => Le,
        "pr" => Pr,
        _ => return None,
    })
}

/// A quoted value; for boolean attributes `"True"`/`"false"` mean the booleans, the way
/// Entra writes them.
fn string_value(s: String, def: &AttrDef) -> ValueKind {
    if def.kind == AttrType::Boolean {
        if s.eq_ignore_ascii_case("true") {
            return ValueKind::BoolValue(true);
        }
        if s.eq_ignore_ascii_case("false") {
            return ValueKind::BoolValue(false);
        }
    }
    ValueKind::StringValue(s)
}

/// An unquoted literal: `true`, `false`, `null` or a JSON number. Anything else is an
/// unquoted string, which we refuse rather than guess at.
fn literal(w: &str) -> Option<ValueKind> {
    if w.eq_ignore_ascii_case("true") {
        return Some(ValueKind::BoolValue(true));
    }
    if w.eq_ignore_ascii_case("false") {
        return Some(ValueKind::BoolValue(false));
    }
    if w.eq_ignore_ascii_case("null") {
        return Some(ValueKind::NullValue(true));
    }
    let first = w.as_bytes().first()?;
    if *first == b'-' || first.is_ascii_digit() {
        let n: f64 = serde_json::from_str(w).ok()?;
        if n.is_finite() {
            return Some(ValueKind::NumberValue(n));
        }
    }
    None
}

fn check_operands(
    attribute: &str,
    def: &AttrDef,
    op: pb::CompareOp,
    value: &ValueKind,
) -> Result<(), ScimError> {
    use pb::CompareOp::*;
    let ordering = matches!(op, Gt | Ge | Lt | Le);
    let substring = matches!(op, Co | Sw | Ew);
    let bad = (ordering
        && (matches!(def.kind, AttrType::Boolean | AttrType::Binary)
            || matches!(value, ValueKind::BoolValue(_) | ValueKind::NullValue(_))))
        || (substring && !matches!(value, ValueKind::StringValue(_)));
    if bad {
        return Err(err(format!(
            "operator '{}' cannot compare \"{attribute}\" with that value",
            op_name(op)
        )));
    }
    Ok(())
}

/// The wire spelling of an operator.
fn op_name(op: pb::CompareOp) -> &'static str {
    scim_model::filter_shape::op_name(op)
}

fn describe(t: &Tok<'_>) -> String {
    match t {
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::LBracket => "'['".into(),
        Tok::RBracket => "']'".into(),
        Tok::Str(_) => "a string".into(),
        Tok::Word(w) => format!("\"{}\"", clip(w)),
    }
}
