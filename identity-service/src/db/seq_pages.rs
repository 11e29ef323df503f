//! The paging queries of a resource table, written once for `users` and `groups`.
//!
//! Both tables list in `seq` order within a tenant over the `(tenant, seq)` index, and
//! differ only in names; diesel's table types are distinct per table, so the queries are
//! generated for each by [`seq_pages!`] rather than made generic over the table.

/// Generates, inside a table's module, `count`, `after`, `skip_from`
/// and `sample_seqs` for `$table` and its row type `$row`; `$what` names the rows in the
/// generated documentation.
macro_rules! seq_pages {
    ($table:ident, $row:ty, $what:literal) => {
        #[doc = concat!("Number of ", $what, " of `tenant`.")]
        pub fn count(conn: &mut Conn<'_>, tenant: &str) -> QueryResult<i64> {
            let query = $table::table.filter($table::tenant.eq(tenant)).count();
            with_conn!(conn, |c| query.get_result(c))
        }

        #[doc = concat!("Up to `limit` ", $what, " after `seq`, in order.")]
        pub fn after(
            conn: &mut Conn<'_>,
            tenant: &str,
            seq: i64,
            limit: i64,
        ) -> QueryResult<Vec<$row>> {
            macro_rules! page {
                () => {
                    $table::table
                        .filter($table::tenant.eq(tenant))
                        .filter($table::seq.gt(seq))
                        .order($table::seq.asc())
                        .select(<$row>::as_select())
                };
            }
            match conn {
                // No `LIMIT`: it would make SQLite prepare the statement again on every
                // call (see `db::sql`).
                Conn::Sqlite(c) => $crate::db::sql::first_rows(
                    page!().load_iter::<$row, diesel::connection::DefaultLoadingMode>(&mut **c)?,
                    limit,
                ),
                Conn::Pg(c) => page!().limit(limit).load(&mut **c),
            }
        }

        #[doc = concat!(
            "Up to `limit` ", $what, " with `seq >= from_seq`, skipping the first `offset` ",
            "of them, in order."
        )]
        pub fn skip_from(
            conn: &mut Conn<'_>,
            tenant: &str,
            from_seq: i64,
            offset: i64,
            limit: i64,
        ) -> QueryResult<Vec<$row>> {
            // The skipped rows are stepped over in the `(tenant, seq)` index alone; only
            // the page's rows are read from the table.
            let seqs = $table::table
                .filter($table::tenant.eq(tenant))
                .filter($table::seq.ge(from_seq))
                .order($table::seq.asc())
                .select($table::seq);
            let start = match conn {
                Conn::Sqlite(c) => $crate::db::sql::nth_row(
                    seqs.load_iter::<i64, diesel::connection::DefaultLoadingMode>(&mut **c)?,
                    offset,
                )?,
                Conn::Pg(c) => seqs
                    .offset(offset)
                    .limit(1)
                    .get_result(&mut **c)
                    .optional()?,
            };
            match start {
                Some(start) => after(conn, tenant, start - 1, limit),
                None => Ok(Vec::new()),
            }
        }

        #[doc = concat!(
            "The number of ", $what, " of `tenant`, and the seq at every `every`-th ",
            "position (0, `every`, 2 × `every`, …), from one walk of the `(tenant, seq)` index."
        )]
        pub fn sample_seqs(
            conn: &mut Conn<'_>,
            tenant: &str,
            every: usize,
        ) -> QueryResult<(i64, Vec<i64>)> {
            let seqs = $table::table
                .filter($table::tenant.eq(tenant))
                .order($table::seq.asc())
                .select($table::seq);
            with_conn!(conn, |c| $crate::db::sample_every(
                seqs.load_iter::<i64, diesel::connection::DefaultLoadingMode>(c)?,
                every
            ))
        }
    };
}

pub(crate) use seq_pages;
