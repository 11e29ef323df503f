//! The synthetic directory and the SCIM/OAuth requests the harness sends.
//!
//! Every user is derived from its index alone, so any scenario can rebuild a user's
//! userName, e-mail or full representation without keeping them in memory. The data is
//! made up (`example.test` addresses), never copied from anywhere.

use std::net::SocketAddr;

use http::{Method, Request};
use hyper::body::Bytes;
use serde_json::{Value, json};

use crate::load::{self, Body, Conn, LoadError};

/// SCIM base path on the gateway.
pub const SCIM: &str = "/scim/v2";
/// The token endpoint path.
pub const TOKEN_PATH: &str = "/oauth2/token";
/// Content type of SCIM request bodies.
pub const SCIM_JSON: &str = "application/scim+json";
/// Content type of the token request.
pub const FORM: &str = "application/x-www-form-urlencoded";
/// Schema URN of PATCH requests.
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Failures of single API calls made outside the timed loops (set-up, preload, walk).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Transport failure.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The server answered with an unexpected status.
    #[error("{what} failed with {status}: {body}")]
    Status {
        /// What was being done.
        what: String,
        /// The status.
        status: http::StatusCode,
        /// The start of the body.
        body: String,
    },
    /// The body was not the JSON expected.
    #[error("{what}: unexpected response body")]
    Body {
        /// What was being done.
        what: String,
    },
}

/// Where the gateway is and how to authenticate to it.
#[derive(Debug, Clone)]
pub struct Api {
    /// Gateway socket address.
    pub addr: SocketAddr,
    /// `Host` header value.
    pub host: String,
    /// Bearer access token.
    pub token: String,
}

impl Api {
    /// A request with the bearer token.
    pub fn request(&self, method: Method, path: &str, json: Option<&Value>) -> Request<Body> {
        let body = json.map(|v| (SCIM_JSON, Bytes::from(v.to_string())));
        load::request(method, &self.host, path, Some(&self.token), body)
    }

    /// Sends one request and returns its JSON body, failing on any non-2xx status.
    pub async fn call(
        &self,
        conn: &mut Conn,
        what: &str,
        method: Method,
        path: &str,
        json: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let (status, body) = conn.send(self.request(method, path, json)).await?;
        check(what, status, &body)?;
        if body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&body).map_err(|_| ApiError::Body {
            what: what.to_owned(),
        })
    }
}

/// Fails unless `status` is 2xx, keeping the start of the body for diagnosis.
pub fn check(what: &str, status: http::StatusCode, body: &[u8]) -> Result<(), ApiError> {
    if status.is_success() {
        return Ok(());
    }
    Err(ApiError::Status {
        what: what.to_owned(),
        status,
        body: String::from_utf8_lossy(body).chars().take(300).collect(),
    })
}

/// userName of preloaded user `i`.
pub fn user_name(i: usize) -> String {
    format!("bench.user.{i:07}@example.test")
}

/// Work e-mail of preloaded user `i`; distinct from the userName so that the e-mail
/// lookup cannot be answered by the userName index.
pub fn work_email(i: usize) -> String {
    format!("bench.mail.{i:07}@example.test")
}

/// The full representation of user `i`; `revision` varies the mutable fields so that a
/// PUT really changes something.
pub fn user_json(i: usize, revision: u64) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name(i),
        "externalId": format!("ext-{i:07}"),
        "name": {
            "givenName": "Bench",
            "familyName": format!("User {i}"),
            "formatted": format!("Bench User {i}"),
        },
        "displayName": format!("Bench User {i} r{revision}"),
        "active": true,
        "emails": [
            {"value": work_email(i), "type": "work", "primary": true},
            {"value": format!("bench.home.{i:07}@example.test"), "type": "home"}
        ],
    })
}

/// A user with a userName no other request uses (POST /Users scenario).
pub fn new_user_json(tag: &str, seq: u64) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("bench.new.{tag}.{seq}@example.test"),
        "name": {"givenName": "New", "familyName": format!("User {seq}")},
        "active": true,
        "emails": [{"value": format!("bench.newmail.{tag}.{seq}@example.test"), "type": "work", "primary": true}],
    })
}

/// A PATCH replacing `active`.
pub fn patch_active(active: bool) -> Value {
    json!({
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "active", "value": active}],
    })
}

/// The PATCH Entra sends when a profile changes: a `name` sub-attribute and the work
/// e-mail through a value filter, both new values (`seq` makes them so).
pub fn patch_profile(seq: u64) -> Value {
    json!({
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "Replace", "path": "name.givenName", "value": format!("Given {seq}")},
            {"op": "Replace", "path": "emails[type eq \"work\"].value",
             "value": format!("bench.profile.{seq}@example.test")},
        ],
    })
}

/// A PATCH adding members to a group.
pub fn patch_add_members<'a>(ids: impl IntoIterator<Item = &'a String>) -> Value {
    let members: Vec<Value> = ids.into_iter().map(|id| json!({"value": id})).collect();
    json!({
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": members}],
    })
}

/// A PATCH removing one member from a group.
pub fn patch_remove_member(id: &str) -> Value {
    json!({
        "schemas": [PATCH_OP],
        "Operations": [{"op": "remove", "path": format!("members[value eq \"{id}\"]")}],
    })
}

/// A new group.
pub fn group_json(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
    })
}

/// `/Users?filter=...` with the filter URL-encoded, plus extra query pairs.
pub fn users_query(pairs: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    format!("{SCIM}/Users?{query}")
}

/// The `filter=userName eq "…"` lookup path for user `i`.
pub fn username_lookup(i: usize) -> String {
    users_query(&[("filter", &format!("userName eq \"{}\"", user_name(i)))])
}

/// Entra's lookup: `filter=emails[type eq "work"].value eq "…"` for user `i`.
pub fn email_lookup(i: usize) -> String {
    users_query(&[(
        "filter",
        &format!("emails[type eq \"work\"].value eq \"{}\"", work_email(i)),
    )])
}

/// A page of `count` users from `cursor` (empty: the first page).
pub fn cursor_page(cursor: &str, count: usize) -> String {
    format!("/scim/v2/Users?count={count}&cursor={cursor}")
}

/// A page of `count` users from `start_index` (1-based).
pub fn page(start_index: usize, count: usize) -> String {
    users_query(&[
        ("startIndex", &start_index.to_string()),
        ("count", &count.to_string()),
    ])
}

/// The client_credentials form body, with an optional requested lifetime.
pub fn token_form(client_id: &str, client_secret: &str, ttl: Option<&str>) -> Bytes {
    let mut pairs = vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", client_secret),
    ];
    if let Some(ttl) = ttl {
        pairs.push(("ttl", ttl));
    }
    let form = serde_urlencoded::to_string(pairs).unwrap_or_default();
    Bytes::from(form)
}

/// Mints an access token through the public token endpoint, valid long enough for a
/// full run (the preload of 100,000 users alone takes a while).
pub async fn mint_token(
    addr: SocketAddr,
    client_id: &str,
    client_secret: &str,
) -> Result<String, ApiError> {
    let host = addr.to_string();
    let mut conn = Conn::open(addr).await?;
    let req = load::request(
        Method::POST,
        &host,
        TOKEN_PATH,
        None,
        Some((FORM, token_form(client_id, client_secret, Some("24h")))),
    );
    let (status, body) = conn.send(req).await?;
    check("minting a token", status, &body)?;
    let v: Value = serde_json::from_slice(&body).map_err(|_| ApiError::Body {
        what: "minting a token".into(),
    })?;
    v["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ApiError::Body {
            what: "minting a token".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_url_encoded_filters() {
        let p = username_lookup(42);
        assert_eq!(
            p,
            "/scim/v2/Users?filter=userName+eq+%22bench.user.0000042%40example.test%22"
        );
        let decoded: Vec<(String, String)> =
            serde_urlencoded::from_str(p.split_once('?').unwrap().1).unwrap();
        assert_eq!(
            decoded[0].1,
            "userName eq \"bench.user.0000042@example.test\""
        );
        let e = email_lookup(7);
        let decoded: Vec<(String, String)> =
            serde_urlencoded::from_str(e.split_once('?').unwrap().1).unwrap();
        assert_eq!(
            decoded[0].1,
            "emails[type eq \"work\"].value eq \"bench.mail.0000007@example.test\""
        );
    }

    #[test]
    fn users_are_derived_from_their_index() {
        let u = user_json(5, 1);
        assert_eq!(u["userName"], user_name(5));
        assert_eq!(u["emails"][0]["value"], work_email(5));
        assert_eq!(u["emails"][0]["type"], "work");
        assert_ne!(user_json(5, 2)["displayName"], u["displayName"]);
        assert_ne!(user_name(5), work_email(5));
    }

    #[test]
    fn patches_are_scim_patch_ops() {
        let ids = vec!["a".to_owned(), "b".to_owned()];
        let add = patch_add_members(&ids);
        assert_eq!(add["Operations"][0]["value"][1]["value"], "b");
        let rm = patch_remove_member("a");
        assert_eq!(rm["Operations"][0]["path"], "members[value eq \"a\"]");
        assert_eq!(patch_active(false)["Operations"][0]["value"], false);
        let profile = patch_profile(7);
        assert_eq!(
            profile["Operations"][1]["path"],
            "emails[type eq \"work\"].value"
        );
        assert_eq!(profile["Operations"][0]["value"], "Given 7");
    }

    #[test]
    fn token_form_encodes_credentials() {
        let f = token_form("id 1", "s&cret", None);
        assert_eq!(
            &f[..],
            b"grant_type=client_credentials&client_id=id+1&client_secret=s%26cret"
        );
        let f = token_form("i", "s", Some("24h"));
        assert!(f.ends_with(b"&ttl=24h"));
    }

    #[test]
    fn page_path_has_start_index_and_count() {
        assert_eq!(page(101, 100), "/scim/v2/Users?startIndex=101&count=100");
    }
}
