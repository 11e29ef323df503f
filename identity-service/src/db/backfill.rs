//! Column values a migration adds but cannot compute in SQL, filled in by
//! identity-service after the migrations ran: a `backfills` row names each one still to
//! do, and is deleted in the write that fills the last rows.
//!
//! One batch per write keeps each transaction short, so requests are served while a
//! large directory fills. Replicas starting together may fill the same rows; each
//! computes the same value.

use diesel::prelude::*;
use scim_storage::{Conn, with_conn};

use super::schema::{backfills, users};
use super::users::UserRow;
use super::{Database, DbOp};
use crate::error::IdentityError;
use crate::model;

/// Users filled per write.
const BATCH: i64 = 500;

/// The backfill of `users.sort_email`.
const SORT_EMAIL: &str = "users.sort_email";

/// Runs every backfill still to do.
pub async fn run(db: &Database) -> Result<(), IdentityError> {
    let mut after = 0;
    loop {
        let step = db
            .write(DbOp::new("UPDATE", "users"), move |conn| {
                sort_email_batch(conn, after)
            })
            .await?;
        match step {
            Some(last) => after = last,
            None => return Ok(()),
        }
    }
}

/// Fills `sort_email` for the users after `after`; the seq to go on after, or `None`
/// once there is nothing left to do.
fn sort_email_batch(conn: &mut Conn<'_>, after: i64) -> Result<Option<i64>, IdentityError> {
    let pending = backfills::table.filter(backfills::name.eq(SORT_EMAIL));
    let todo: i64 = with_conn!(conn, |c| pending.count().get_result(c))?;
    if todo == 0 {
        return Ok(None);
    }
    let rows: Vec<UserRow> = with_conn!(conn, |c| users::table
        .filter(users::seq.gt(after))
        .order(users::seq.asc())
        .limit(BATCH)
        .select(UserRow::as_select())
        .load(c))?;
    for row in &rows {
        let email = model::sort_email(&model::stored_user(row)?.emails);
        if email != row.sort_email {
            let target = users::table.filter(users::seq.eq(row.seq));
            with_conn!(conn, |c| diesel::update(target)
                .set(users::sort_email.eq(&email))
                .execute(c))?;
        }
    }
    match rows.last() {
        Some(last) if rows.len() as i64 == BATCH => Ok(Some(last.seq)),
        _ => {
            with_conn!(conn, |c| diesel::delete(pending).execute(c))?;
            tracing::info!(backfill = SORT_EMAIL, "backfill done");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection as _;
    use scim_proto::identity::v1 as pb;
    use scim_storage::testing::TestDatabase;

    use super::*;
    use crate::model::UserValues;

    fn email(value: &str, primary: bool) -> pb::MultiValue {
        pb::MultiValue {
            value: value.into(),
            primary,
            ..Default::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn users_written_before_the_column_get_their_sort_email_at_start_up() {
        let test_db = TestDatabase::new("b.db");
        let db = Database::open(test_db.url(), 2).await.unwrap();
        db.migrate().await.unwrap();
        // More users than one batch: the primary e-mail, else the first, else none.
        let n = BATCH as usize + 7;
        let want: Vec<Option<String>> = (0..n)
            .map(|i| match i % 3 {
                0 => Some(format!("primary{i}@x")),
                1 => Some(format!("first{i}@x")),
                _ => None,
            })
            .collect();
        db.write(DbOp::new("INSERT", "users"), move |conn| {
            for i in 0..n {
                let emails = match i % 3 {
                    0 => vec![
                        email("other@x", false),
                        email(&format!("PRIMARY{i}@x"), true),
                    ],
                    1 => vec![
                        email(&format!("First{i}@x"), false),
                        email("second@x", false),
                    ],
                    _ => vec![],
                };
                let user = pb::User {
                    user_name: format!("u{i}"),
                    emails: emails.clone(),
                    ..Default::default()
                };
                let values = UserValues::new(&user, Some(true));
                let id = format!("id{i}");
                super::super::users::insert(
                    conn,
                    "t",
                    &id,
                    &values,
                    &emails,
                    None,
                    chrono::Utc::now().naive_utc(),
                )?;
            }
            // As the migration leaves a directory written before it.
            with_conn!(conn, |c| c.batch_execute(
                "UPDATE users SET sort_email = NULL; \
                 INSERT INTO backfills (name) VALUES ('users.sort_email')"
            ))?;
            Ok(())
        })
        .await
        .unwrap();
        db.migrate().await.unwrap();
        let (got, pending) = db
            .read(DbOp::new("SELECT", "users"), |conn| {
                let got: Vec<Option<String>> = with_conn!(conn, |c| users::table
                    .order(users::seq.asc())
                    .select(users::sort_email)
                    .load(c))?;
                let pending: i64 = with_conn!(conn, |c| backfills::table.count().get_result(c))?;
                Ok((got, pending))
            })
            .await
            .unwrap();
        assert_eq!(got, want);
        assert_eq!(pending, 0, "the backfill is done once");
    }
}
