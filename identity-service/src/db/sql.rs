//! Query shapes diesel's DSL has no cacheable form for.
//!
//! Diesel keeps a prepared statement per query shape only when the SQL text cannot vary
//! between calls. An `IN (?, ?, …)` list has one placeholder per value, so diesel
//! prepares it again on every call; and SQLite itself throws a statement away and
//! prepares it again whenever a bound `LIMIT` or `OFFSET` is bound anew (the plan may
//! depend on its value). Parsing and planning was a large share of identity-service's
//! CPU on a 100-user page (docs/PERFORMANCE.md), so page queries are written without
//! either: a set of values is one bound JSON array, and a page stops reading rows
//! instead of asking SQLite to.

use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::{Bool, Text};
use diesel::sqlite::Sqlite;

/// `column IN (SELECT value FROM json_each(?))`: membership in a set of text values
/// bound as one JSON array, so the statement text is the same for any number of values.
#[derive(Debug, Clone)]
pub struct InJsonArray<C> {
    column: C,
    values: String,
}

/// `column` is one of `values`.
pub fn in_json_array<C>(column: C, values: &[&str]) -> InJsonArray<C> {
    // A JSON array of strings cannot fail to serialise.
    let values = serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned());
    InJsonArray { column, values }
}

impl<C> Expression for InJsonArray<C> {
    type SqlType = Bool;
}

impl<C: QueryFragment<Sqlite>> QueryFragment<Sqlite> for InJsonArray<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (SELECT value FROM json_each(");
        out.push_bind_param::<Text, String>(&self.values)?;
        out.push_sql("))");
        Ok(())
    }
}

impl<C: QueryId> QueryId for InJsonArray<C> {
    type QueryId = InJsonArray<C::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = C::HAS_STATIC_QUERY_ID;
}

impl<C, QS> AppearsOnTable<QS> for InJsonArray<C> where C: AppearsOnTable<QS> {}

impl<C, QS> SelectableExpression<QS> for InJsonArray<C> where C: SelectableExpression<QS> {}

impl<C, GB> ValidGrouping<GB> for InJsonArray<C>
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
/// prepared statement by type (`Connection::transaction` sends its `BEGIN` and `COMMIT`
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

        impl<Conn> diesel::RunQueryDsl<Conn> for $name {}
    };
}

fixed_statement!(
    /// `BEGIN` (deferred: a read takes its snapshot at its first statement).
    Begin = "BEGIN"
);
fixed_statement!(
    /// `COMMIT`.
    Commit = "COMMIT"
);
fixed_statement!(
    /// `ROLLBACK`.
    Rollback = "ROLLBACK"
);
