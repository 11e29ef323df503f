//! Which database a `--database-url` names.
//!
//! `postgres://…` and `postgresql://…` select PostgreSQL (the URL is handed to libpq
//! as it is); `sqlite://PATH`, `sqlite:PATH` or a plain path select a SQLite file.

use std::path::PathBuf;

/// The two storage backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// A SQLite file: one machine, one writer.
    Sqlite,
    /// A PostgreSQL database: shared by replicas.
    Postgres,
}

impl Backend {
    /// The OpenTelemetry `db.system.name` of the backend.
    pub const fn system_name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        }
    }
}

/// A database URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Empty, or another scheme than SQLite's and PostgreSQL's.
    #[error(
        "unsupported database URL {0:?}: use postgres://… (or postgresql://…), sqlite://PATH or a file path"
    )]
    Unsupported(String),
    /// An in-memory SQLite database: every pooled connection would see its own.
    #[error("in-memory SQLite databases cannot be pooled; name a file")]
    InMemory,
}

/// A parsed database URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// The SQLite file at this path.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL, as libpq takes it.
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        write!(f, "DatabaseUrl({self})")
    }
}

impl DatabaseUrl {
    /// Parses a `--database-url` value.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() || path.contains("://") {
            return Err(UrlError::Unsupported(redact(url)));
        }
        if path == ":memory:" || path.contains("mode=memory") || path.starts_with("file::memory:") {
            return Err(UrlError::InMemory);
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }

    /// The backend the URL selects.
    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Shown in logs and errors: the URL without its password.
impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

/// `scheme://user:***@host/…`: the password of a URL's user-info replaced, and a
/// `password=` query parameter too.
fn redact(url: &str) -> String {
    let mut out = match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            match authority.rsplit_once('@') {
                Some((user_info, host)) => {
                    let user = user_info.split(':').next().unwrap_or("");
                    let masked = if user_info.contains(':') {
                        format!("{user}:***")
                    } else {
                        user.to_owned()
                    };
                    format!("{scheme}://{masked}@{host}{tail}")
                }
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    };
    if let Some(at) = out.find("password=") {
        let end = out[at..].find('&').map_or(out.len(), |e| at + e);
        out.replace_range(at..end, "password=***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_select_the_backend() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db").unwrap().backend(),
            Backend::Postgres
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://h/db").unwrap().backend(),
            Backend::Postgres
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://./data/identity.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("./data/identity.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/x.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("/var/lib/x.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("x.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("x.db"))
        );
    }

    #[test]
    fn memory_empty_and_foreign_urls_are_refused() {
        assert_eq!(DatabaseUrl::parse(":memory:"), Err(UrlError::InMemory));
        assert_eq!(
            DatabaseUrl::parse("sqlite://:memory:"),
            Err(UrlError::InMemory)
        );
        assert!(matches!(
            DatabaseUrl::parse("mysql://db/x"),
            Err(UrlError::Unsupported(_))
        ));
        assert!(DatabaseUrl::parse("").is_err());
    }

    #[test]
    fn passwords_never_show() {
        let url = DatabaseUrl::parse("postgres://scim:s3cret@db:5432/dir?sslmode=require").unwrap();
        let shown = format!("{url} {url:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://scim:***@db:5432/dir?sslmode=require"));
        let query = DatabaseUrl::parse("postgres://db/dir?user=a&password=hunter2&x=1").unwrap();
        assert_eq!(
            query.to_string(),
            "postgres://db/dir?user=a&password=***&x=1"
        );
        let error = DatabaseUrl::parse("mysql://root:pw@db/x")
            .unwrap_err()
            .to_string();
        assert!(!error.contains(":pw@"), "{error}");
    }
}
