//! Timestamps as both backends keep them exactly.
//!
//! Times are UTC with nanoseconds (a resource's `meta.created` shows them), and a
//! directory moved from SQLite to PostgreSQL must keep them to the last digit: ETags
//! and `meta` are what IdPs compare. PostgreSQL's `timestamp` holds microseconds, so
//! both backends store the text diesel has always written to SQLite,
//! `YYYY-MM-DD HH:MM:SS[.fff…]` (the fraction as long as needed: 0, 3, 6 or 9 digits).
//! Its date and time fields are fixed-width and the fraction follows them, so text
//! order is time order; PostgreSQL's columns use the `C` collation so that comparisons
//! are byte-wise, as on SQLite.
//!
//! Reading parses that layout by hand (chrono's format-string parser, tried layout by
//! layout, was a tenth of identity-service's CPU on a 100-user page) and falls back to
//! chrono for anything else.

use std::io::Write as _;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::{Sqlite, SqliteValue};

/// The stored layout; what diesel writes for a SQLite `TIMESTAMP`.
pub const LAYOUT: &str = "%F %T%.f";

/// A UTC time in a text column (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct DbTime(pub NaiveDateTime);

impl From<NaiveDateTime> for DbTime {
    fn from(t: NaiveDateTime) -> Self {
        DbTime(t)
    }
}

impl From<DbTime> for NaiveDateTime {
    fn from(t: DbTime) -> Self {
        t.0
    }
}

impl DbTime {
    /// The stored text.
    pub fn to_text(self) -> String {
        self.0.format(LAYOUT).to_string()
    }

    /// The time a stored text names.
    pub fn from_text(text: &str) -> deserialize::Result<Self> {
        parse(text)
            .or_else(|| NaiveDateTime::parse_from_str(text, LAYOUT).ok())
            .or_else(|| NaiveDateTime::parse_from_str(text, "%FT%T%.f").ok())
            .map(DbTime)
            .ok_or_else(|| format!("not a stored timestamp: {text:?}").into())
    }
}

impl ToSql<Text, Sqlite> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.to_text());
        Ok(IsNull::No)
    }
}

impl FromSql<Text, Sqlite> for DbTime {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        DbTime::from_text(value.read_text())
    }
}

impl ToSql<Text, Pg> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        write!(out, "{}", self.0.format(LAYOUT))?;
        Ok(IsNull::No)
    }
}

impl FromSql<Text, Pg> for DbTime {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        DbTime::from_text(std::str::from_utf8(value.as_bytes())?)
    }
}

/// `YYYY-MM-DD HH:MM:SS` with an optional `.` and 1 to 9 fraction digits; `None` for
/// anything else.
pub fn parse(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0_u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, num(5, 7)?, num(8, 10)?)?;
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let n = num(20, b.len())?;
            n * 10_u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let time = NaiveTime::from_hms_nano_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?, nanos)?;
    Some(NaiveDateTime::new(date, time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_is_written_exactly() {
        for text in [
            "2026-11-28 23:10:39",
            "2026-11-28 23:10:39.5",
            "2026-11-28 23:10:39.123456",
            "1999-01-01 00:00:00.000000001",
            "2024-02-29 12:00:00.999999999",
        ] {
            let chrono = NaiveDateTime::parse_from_str(text, "%F %T%.f").unwrap();
            assert_eq!(parse(text), Some(chrono), "{text}");
        }
        let now = chrono::Utc::now().naive_utc();
        assert_eq!(
            DbTime::from_text(&DbTime(now).to_text()).unwrap(),
            DbTime(now)
        );
    }

    #[test]
    fn text_order_is_time_order() {
        let base = NaiveDateTime::parse_from_str("2026-11-28 23:10:39", "%F %T").unwrap();
        let times: Vec<NaiveDateTime> = [0_i64, 1, 500_000, 999_999_999, 1_000_000_000, 1_500]
            .iter()
            .map(|n| base + chrono::Duration::nanoseconds(*n))
            .collect();
        for a in &times {
            for b in &times {
                assert_eq!(
                    DbTime(*a).to_text().cmp(&DbTime(*b).to_text()),
                    a.cmp(b),
                    "{a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn other_layouts_are_left_to_chrono_or_refused() {
        for text in [
            "2026-11-28T23:10:39",
            "2026-11-28 23:10:39Z",
            "2026-11-28 23:10",
            "2026-13-28 23:10:39",
            "2026-02-30 23:10:39",
            "2026-11-28 24:10:39",
            "2026-11-28 23:10:39.",
            "2026-11-28 23:10:39.1234567890",
            "２026-11-28 23:10:39",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
        assert!(DbTime::from_text("2026-11-28T23:10:39").is_ok());
        assert!(DbTime::from_text("yesterday").is_err());
    }
}
