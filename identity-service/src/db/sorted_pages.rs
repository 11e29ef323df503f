//! The queries of a list sorted by a column (RFC 7644 §3.4.2.3), written once for every
//! sortable column of `users` and `groups`.
//!
//! A sorted walk is a keyset walk on `(column, seq)`: the next page is the rows after
//! the last one served, found through the `(tenant, column)` index (on SQLite every
//! index ends in the rowid, which is `seq`; PostgreSQL's indexes name `seq` last), so a
//! page costs its own rows however deep the walk is. Rows without a value
//! sort after every value when ascending and before them when descending, each run in
//! `seq` order, reversed when descending. Text columns are byte-ordered on both
//! backends (`COLLATE "C"` on PostgreSQL), which is the order of Rust's `str`.

/// Where a sorted walk stands: the sort value and `seq` of the last row served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortPos {
    /// The row's value of the sort column (`None`: it has none).
    pub value: Option<String>,
    /// The row's `seq`.
    pub seq: i64,
}

/// One statement of a walk: the tenant's rows of `$table`, narrowed by `$narrow` (an
/// expression of the boxed query `$q`), in order `$asc` or, when `$descending`, `$desc`,
/// at most `$limit` of them. The statement has a LIMIT, unlike the `seq` pages: a
/// sorted list is not the IdPs' hot path, and one statement shape per direction keeps
/// this simple.
macro_rules! walk_statement {
    ($conn:expr, $table:ident, $row:ty, $tenant:expr, $descending:expr, $limit:expr,
     |$q:ident| $narrow:expr, asc: $asc:expr, desc: $desc:expr) => {
        with_conn!($conn, |c| {
            let $q = $table::table
                .filter($table::tenant.eq($tenant))
                .select(<$row>::as_select())
                .into_boxed();
            let q = $narrow;
            let q = if $descending {
                q.order($desc)
            } else {
                q.order($asc)
            };
            q.limit($limit).load::<$row>(c)
        })
    };
}

/// Generates `pub fn $name(conn, tenant, descending, from, limit)`: up to `limit` rows of
/// `$table` in the order of `$col`, after `from` (from the start when `None`). `created`
/// walks `seq` alone; `nullable` columns walk their rows without a value too;
/// `required` ones have none; `unique` ones have neither rows without a value nor ties.
macro_rules! sorted_pages {
    ($name:ident, $table:ident, $row:ty, created) => {
        #[doc = "Up to `limit` rows in creation order after `from`."]
        pub fn $name(
            conn: &mut Conn<'_>,
            tenant: &str,
            descending: bool,
            from: Option<&$crate::db::sorted_pages::SortPos>,
            limit: i64,
        ) -> QueryResult<Vec<$row>> {
            $crate::db::sorted_pages::walk_statement!(
                conn, $table, $row, tenant, descending, limit,
                |q| match from {
                    Some(p) if descending => q.filter($table::seq.lt(p.seq)),
                    Some(p) => q.filter($table::seq.gt(p.seq)),
                    None => q,
                },
                asc: $table::seq.asc(),
                desc: $table::seq.desc()
            )
        }
    };
    // A unique column that always has a value orders the rows alone, so the walk is its
    // unique index's (no `seq` to break ties on).
    ($name:ident, $table:ident, $row:ty, $col:ident, unique) => {
        #[doc = concat!("Up to `limit` rows in `", stringify!($col), "` order after `from`.")]
        pub fn $name(
            conn: &mut Conn<'_>,
            tenant: &str,
            descending: bool,
            from: Option<&$crate::db::sorted_pages::SortPos>,
            limit: i64,
        ) -> QueryResult<Vec<$row>> {
            let after = from.map(|p| p.value.clone().unwrap_or_default());
            $crate::db::sorted_pages::walk_statement!(
                conn, $table, $row, tenant, descending, limit,
                |q| match &after {
                    Some(v) if descending => q.filter($table::$col.lt(v.clone())),
                    Some(v) => q.filter($table::$col.gt(v.clone())),
                    None => q,
                },
                asc: $table::$col.asc(),
                desc: $table::$col.desc()
            )
        }
    };
    ($name:ident, $table:ident, $row:ty, $col:ident, required) => {
        #[doc = concat!("Up to `limit` rows in `", stringify!($col), "` order after `from`.")]
        pub fn $name(
            conn: &mut Conn<'_>,
            tenant: &str,
            descending: bool,
            from: Option<&$crate::db::sorted_pages::SortPos>,
            limit: i64,
        ) -> QueryResult<Vec<$row>> {
            let after = from.map(|p| (p.value.clone().unwrap_or_default(), p.seq));
            $crate::db::sorted_pages::walk_statement!(
                conn, $table, $row, tenant, descending, limit,
                |q| match &after {
                    Some((v, s)) if descending => q.filter(
                        $table::$col
                            .lt(v.clone())
                            .or($table::$col.eq(v.clone()).and($table::seq.lt(*s))),
                    ),
                    Some((v, s)) => q.filter(
                        $table::$col
                            .gt(v.clone())
                            .or($table::$col.eq(v.clone()).and($table::seq.gt(*s))),
                    ),
                    None => q,
                },
                asc: ($table::$col.asc(), $table::seq.asc()),
                desc: ($table::$col.desc(), $table::seq.desc())
            )
        }
    };
    ($name:ident, $table:ident, $row:ty, $col:ident, nullable) => {
        #[doc = concat!("Up to `limit` rows in `", stringify!($col), "` order after `from`.")]
        pub fn $name(
            conn: &mut Conn<'_>,
            tenant: &str,
            descending: bool,
            from: Option<&$crate::db::sorted_pages::SortPos>,
            limit: i64,
        ) -> QueryResult<Vec<$row>> {
            use $crate::db::sorted_pages::SortPos;
            // Two runs: the rows with a value, then those without, when ascending; the
            // other way round when descending. Each is ordered by the column and `seq`:
            // in the run without a value that is `seq` alone, said so that PostgreSQL
            // reads the index's order without sorting.
            let run = |conn: &mut Conn<'_>, valued: bool, from: Option<&SortPos>, limit: i64| {
                $crate::db::sorted_pages::walk_statement!(
                    conn, $table, $row, tenant, descending, limit,
                    |q| match (valued, from) {
                        (false, None) => q.filter($table::$col.is_null()),
                        (false, Some(p)) if descending => q
                            .filter($table::$col.is_null())
                            .filter($table::seq.lt(p.seq)),
                        (false, Some(p)) => q
                            .filter($table::$col.is_null())
                            .filter($table::seq.gt(p.seq)),
                        (true, None) => q.filter($table::$col.is_not_null()),
                        (true, Some(p)) => {
                            let v = p.value.clone().unwrap_or_default();
                            let q = q.filter($table::$col.is_not_null());
                            if descending {
                                q.filter($table::$col.lt(v.clone()).or($table::$col
                                    .eq(v)
                                    .and($table::seq.lt(p.seq).nullable())))
                            } else {
                                q.filter($table::$col.gt(v.clone()).or($table::$col
                                    .eq(v)
                                    .and($table::seq.gt(p.seq).nullable())))
                            }
                        }
                    },
                    asc: ($table::$col.asc(), $table::seq.asc()),
                    desc: ($table::$col.desc(), $table::seq.desc())
                )
            };
            let first_valued = !descending;
            // A walk standing in the second run stays there.
            if let Some(p) = from
                && p.value.is_some() != first_valued
            {
                return run(conn, !first_valued, Some(p), limit);
            }
            let mut rows = run(conn, first_valued, from, limit)?;
            let rest = limit - rows.len() as i64;
            if rest > 0 {
                rows.extend(run(conn, !first_valued, None, rest)?);
            }
            Ok(rows)
        }
    };
}

pub(crate) use {sorted_pages, walk_statement};
