//! Query shapes diesel's DSL has no cacheable form for.
//!
//! Diesel keeps a prepared statement per query shape only when the SQL text cannot vary
//! between calls. An `IN (?, ?, …)` list has one placeholder per value, so diesel
//! prepares it again on every call; and SQLite itself throws a statement away and
//! prepares it again whenever a bound `LIMIT` or `OFFSET` is bound anew (the plan may
//! depend on its value). Parsing and planning was a large share of identity-service's
//! CPU on a 100-user page (docs/PERFORMANCE.md), so page queries are written without
//! either: a set of values is one bound parameter ([`in_set`]), and on SQLite a page
//! stops reading rows instead of asking SQLite to ([`first_rows`], [`nth_row`]).
//! PostgreSQL plans a bound `LIMIT` once and must be told where to stop (it sends every
//! row of a result otherwise), so its queries keep `LIMIT` and `OFFSET`.

use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::{Array, Bool, Text};
use diesel::sqlite::Sqlite;
use scim_storage::Backend;

/// `column` is one of a set of text values bound as one parameter, so the statement
/// text is the same for any number of values: `IN (SELECT value FROM json_each(?))` on
/// SQLite, `= ANY(?)` with a text array on PostgreSQL.
#[derive(Debug, Clone)]
pub struct InSet<C> {
    column: C,
    values: SetValues,
}

#[derive(Debug, Clone)]
enum SetValues {
    Json(String),
    Array(Vec<String>),
}

/// `column` is one of `values`, in the spelling of `backend`.
pub fn in_set<C>(backend: Backend, column: C, values: &[&str]) -> InSet<C> {
    let values = match backend {
        // A JSON array of strings cannot fail to serialise.
        Backend::Sqlite => {
            SetValues::Json(serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned()))
        }
        Backend::Postgres => SetValues::Array(values.iter().map(|v| (*v).to_owned()).collect()),
    };
    InSet { column, values }
}

impl<C> Expression for InSet<C> {
    type SqlType = Bool;
}

fn wrong_backend() -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError("a value set built for the other backend".into())
}

impl<C: QueryFragment<Sqlite>> QueryFragment<Sqlite> for InSet<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        let SetValues::Json(json) = &self.values else {
            return Err(wrong_backend());
        };
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (SELECT value FROM json_each(");
        out.push_bind_param::<Text, String>(json)?;
        out.push_sql("))");
        Ok(())
    }
}

impl<C: QueryFragment<Pg>> QueryFragment<Pg> for InSet<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let SetValues::Array(values) = &self.values else {
            return Err(wrong_backend());
        };
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" = ANY(");
        out.push_bind_param::<Array<Text>, Vec<String>>(values)?;
        out.push_sql(")");
        Ok(())
    }
}

impl<C: QueryId> QueryId for InSet<C> {
    type QueryId = InSet<C::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = C::HAS_STATIC_QUERY_ID;
}

impl<C, QS> AppearsOnTable<QS> for InSet<C> where C: AppearsOnTable<QS> {}

impl<C, QS> SelectableExpression<QS> for InSet<C> where C: SelectableExpression<QS> {}

impl<C, GB> ValidGrouping<GB> for InSet<C>
where
    C: ValidGrouping<GB>,
{
    type IsAggregate = C::IsAggregate;
}

/// The first `limit` rows of a query that was run without `LIMIT`; reading stops there
/// and the statement is reset when the iterator drops.
pub fn first_rows<T>(
    rows: impl Iterator<Item = QueryResult<T>>,
    limit: i64,
) -> QueryResult<Vec<T>> {
    let limit = usize::try_from(limit).unwrap_or(0);
    rows.take(limit).collect()
}

/// The row at position `offset` (0-based) of a query that was run without `OFFSET`;
/// the rows before it are stepped over, and reading stops there.
pub fn nth_row<T>(
    mut rows: impl Iterator<Item = QueryResult<T>>,
    offset: i64,
) -> QueryResult<Option<T>> {
    rows.nth(usize::try_from(offset).unwrap_or(0)).transpose()
}

/// Statements whose whole text is fixed: a type each, so diesel caches each one's
/// prepared statement by type (on PostgreSQL a prepared statement also skips the
/// server's parse of the simple-query text diesel's transaction builder sends) (`Connection::transaction` sends its `BEGIN` and `COMMIT`
/// through `sqlite3_exec`, which parses them on every call: 4% of a lookup's CPU).
macro_rules! fixed_statement {
    ($(#[$doc:meta])* $name:ident = $sql:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
        pub struct $name;

        impl QueryFragment<Sqlite> for $name {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
                out.push_sql($sql);
                Ok(())
            }
        }

        impl QueryFragment<Pg> for $name {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
                out.push_sql($sql);
                Ok(())
            }
        }

        impl<Conn> diesel::RunQueryDsl<Conn> for $name {}
    };
}

fixed_statement!(
    /// `BEGIN` (deferred: a read takes its snapshot at its first statement).
    Begin = "BEGIN"
);
fixed_statement!(
    /// PostgreSQL's read snapshot: `REPEATABLE READ`, so every statement of the read
    /// sees the snapshot of its first one; `READ ONLY`, so a bug cannot write.
    BeginSnapshot = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
);
fixed_statement!(
    /// `COMMIT`.
    Commit = "COMMIT"
);
fixed_statement!(
    /// `ROLLBACK`.
    Rollback = "ROLLBACK"
);
