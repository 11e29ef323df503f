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

/// Generates `pub fn $name(conn, tenant, descending, from, limit)`: up to `limit` rows of
/// `$table` in the order of `$col`, after `from` (from the start when `None`). `nullable`
/// columns walk their rows without a value too; `required` ones have none; `unique`
/// ones have neither rows without a value nor ties.
macro_rules! sorted_pages {
    // Creation order, either way: `seq` is its own tiebreak.
    ($name:ident, $table:ident, $row:ty, created) => {
        #[doc = "Up to `limit` rows in creation order after `from`."]
        pub fn $name(
            conn: &mut Conn<'_>,
            tenant: &str,
            descending: bool,
            from: Option<&$crate::db::sorted_pages::SortPos>,
            limit: i64,
        ) -> QueryResult<Vec<$row>> {
            with_conn!(conn, |c| {
                let mut q = $table::table
                    .filter($table::tenant.eq(tenant))
                    .select(<$row>::as_select())
                    .into_boxed();
                if let Some(p) = from {
                    q = if descending {
                        q.filter($table::seq.lt(p.seq))
                    } else {
                        q.filter($table::seq.gt(p.seq))
                    };
                }
                q = if descending {
                    q.order($table::seq.desc())
                } else {
                    q.order($table::seq.asc())
                };
                q.limit(limit).load(c)
            })
        }
    };
    // A unique column that always has a value: the column alone orders the rows, so
    // the walk is its unique index's (no `seq` to break ties on).
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
            with_conn!(conn, |c| {
                let mut q = $table::table
                    .filter($table::tenant.eq(tenant))
                    .select(<$row>::as_select())
                    .into_boxed();
                if let Some(v) = &after {
                    q = if descending {
                        q.filter($table::$col.lt(v.clone()))
                    } else {
                        q.filter($table::$col.gt(v.clone()))
                    };
                }
                q = if descending {
                    q.order($table::$col.desc())
                } else {
                    q.order($table::$col.asc())
                };
                q.limit(limit).load(c)
            })
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
            // The statement has a LIMIT, unlike the `seq` pages: a sorted list is not the
            // IdPs' hot path, and one statement shape per direction keeps this simple.
            with_conn!(conn, |c| {
                let mut q = $table::table
                    .filter($table::tenant.eq(tenant))
                    .select(<$row>::as_select())
                    .into_boxed();
                if let Some((v, s)) = &after {
                    q = if descending {
                        q.filter(
                            $table::$col
                                .lt(v.clone())
                                .or($table::$col.eq(v.clone()).and($table::seq.lt(*s))),
                        )
                    } else {
                        q.filter(
                            $table::$col
                                .gt(v.clone())
                                .or($table::$col.eq(v.clone()).and($table::seq.gt(*s))),
                        )
                    };
                }
                q = if descending {
                    q.order(($table::$col.desc(), $table::seq.desc()))
                } else {
                    q.order(($table::$col.asc(), $table::seq.asc()))
                };
                q.limit(limit).load(c)
            })
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
            // Ascending: the valued rows, then the rows without a value; descending: the
            // other way round. `from` says which run the walk is in and where.
            let valued = |conn: &mut Conn<'_>, after: Option<(String, i64)>, limit: i64| {
                with_conn!(conn, |c| {
                    let mut q = $table::table
                        .filter($table::tenant.eq(tenant))
                        .filter($table::$col.is_not_null())
                        .select(<$row>::as_select())
                        .into_boxed();
                    if let Some((v, s)) = &after {
                        q = if descending {
                            q.filter(
                                $table::$col.lt(v.clone()).or($table::$col
                                    .eq(v.clone())
                                    .and($table::seq.lt(*s).nullable())),
                            )
                        } else {
                            q.filter(
                                $table::$col.gt(v.clone()).or($table::$col
                                    .eq(v.clone())
                                    .and($table::seq.gt(*s).nullable())),
                            )
                        };
                    }
                    q = if descending {
                        q.order(($table::$col.desc(), $table::seq.desc()))
                    } else {
                        q.order(($table::$col.asc(), $table::seq.asc()))
                    };
                    q.limit(limit).load::<$row>(c)
                })
            };
            let unvalued = |conn: &mut Conn<'_>, after: Option<i64>, limit: i64| {
                with_conn!(conn, |c| {
                    let mut q = $table::table
                        .filter($table::tenant.eq(tenant))
                        .filter($table::$col.is_null())
                        .select(<$row>::as_select())
                        .into_boxed();
                    if let Some(s) = after {
                        q = if descending {
                            q.filter($table::seq.lt(s))
                        } else {
                            q.filter($table::seq.gt(s))
                        };
                    }
                    // Every row here has no value: ordering by the column too says the
                    // index's order, which PostgreSQL then reads without sorting.
                    q = if descending {
                        q.order(($table::$col.desc(), $table::seq.desc()))
                    } else {
                        q.order(($table::$col.asc(), $table::seq.asc()))
                    };
                    q.limit(limit).load::<$row>(c)
                })
            };
            let more = |got: &[$row]| limit - got.len() as i64;
            match (descending, from) {
                (false, None) => {
                    let mut rows = valued(conn, None, limit)?;
                    let rest = more(&rows);
                    if rest > 0 {
                        rows.extend(unvalued(conn, None, rest)?);
                    }
                    Ok(rows)
                }
                (false, Some(p)) => match &p.value {
                    Some(v) => {
                        let mut rows = valued(conn, Some((v.clone(), p.seq)), limit)?;
                        let rest = more(&rows);
                        if rest > 0 {
                            rows.extend(unvalued(conn, None, rest)?);
                        }
                        Ok(rows)
                    }
                    None => unvalued(conn, Some(p.seq), limit),
                },
                (true, None) => {
                    let mut rows = unvalued(conn, None, limit)?;
                    let rest = more(&rows);
                    if rest > 0 {
                        rows.extend(valued(conn, None, rest)?);
                    }
                    Ok(rows)
                }
                (true, Some(p)) => match &p.value {
                    None => {
                        let mut rows = unvalued(conn, Some(p.seq), limit)?;
                        let rest = more(&rows);
                        if rest > 0 {
                            rows.extend(valued(conn, None, rest)?);
                        }
                        Ok(rows)
                    }
                    Some(v) => valued(conn, Some((v.clone(), p.seq)), limit),
                },
            }
        }
    };
}

pub(crate) use sorted_pages;
