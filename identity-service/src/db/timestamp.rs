//! Reading `TIMESTAMP` columns fast.
//!
//! SQLite stores diesel's timestamps as text (`YYYY-MM-DD HH:MM:SS.ffffff`), and diesel
//! reads them back by trying chrono format strings one after another. On a page of 100
//! users that parsing was about a tenth of identity-service's CPU, so rows read the
//! columns through [`StoredTimestamp`], which parses the layout diesel writes by hand
//! and leaves anything else to diesel.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::sql_types::Timestamp;
use diesel::sqlite::{Sqlite, SqliteValue};

/// A `TIMESTAMP` column as read from SQLite; converts into [`NaiveDateTime`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromSqlRow)]
pub struct StoredTimestamp(pub NaiveDateTime);

impl From<StoredTimestamp> for NaiveDateTime {
    fn from(t: StoredTimestamp) -> Self {
        t.0
    }
}

impl FromSql<Timestamp, Sqlite> for StoredTimestamp {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        if let Some(t) = parse(value.read_text()) {
            return Ok(StoredTimestamp(t));
        }
        <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(StoredTimestamp)
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
    fn reads_what_diesel_writes_exactly() {
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
        let written = now.format("%F %T%.f").to_string();
        assert_eq!(parse(&written), Some(now));
    }

    #[test]
    fn leaves_other_layouts_to_diesel() {
        for text in [
            "2026-11-28T23:10:39",
            "2026-11-28 23:10:39Z",
            "2026-11-28 23:10:39+01:00",
            "2026-11-28 23:10",
            "2026-13-28 23:10:39",
            "2026-02-30 23:10:39",
            "2026-11-28 24:10:39",
            "2026-11-28 23:10:39.",
            "2026-11-28 23:10:39.1234567890",
            "2459000.5",
            "２026-11-28 23:10:39",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
