//! List responses and the query parameters of list and search requests
//! (RFC 7644 §3.4.2, §3.4.3).
//!
//! Paging follows the RFC's leniency rules: `startIndex` below 1 means 1, a negative
//! `count` means 0, and a `count` above the server maximum is capped rather than
//! rejected (Okta pages by its requested count, so a rejection would stop its import).
//!
//! Cursor paging (RFC 9865) is asked for with `cursor` (empty for the first page); the
//! response then carries `nextCursor` while more follow and `previousCursor` after the
//! first page, and no `startIndex`. A cursor
//! names the last resource served, in creation order, so a walk returns every resource
//! that existed for all of it exactly once, whatever is created or deleted meanwhile,
//! and each page is a seek on the `(tenant, seq)` index. Cursors hold no server state
//! and do not expire.

use scim_proto::identity::v1 as pb;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::error::ScimError;
use crate::scim::group::GroupJson;
use crate::scim::json::get_ci;
use crate::scim::user::UserJson;
use scim_model::{LIST_RESPONSE_SCHEMA, SEARCH_REQUEST_SCHEMA};

/// A ListResponse message. `itemsPerPage` is the number of resources actually
/// returned, `Resources` is present even when empty (Okta and Entra expect it).
#[derive(Debug, Clone, PartialEq)]
pub struct ListResponse<R> {
    /// The page.
    pub resources: Vec<R>,
    /// How many resources match in all.
    pub total_results: i64,
    /// The 1-based index of the first resource of the page (index paging).
    pub start_index: i64,
    /// Cursor paging: the cursors of the pages around this one. `None` with index paging.
    pub cursor: Option<Cursors>,
}

/// The cursors a cursor-paged ListResponse names (RFC 9865).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursors {
    /// The next page's (`None` at the end).
    pub next: Option<String>,
    /// The previous page's (`None` on the first page).
    pub previous: Option<String>,
}

impl<R> ListResponse<R> {
    /// Every resource on one page (the discovery endpoints).
    pub fn complete(resources: Vec<R>) -> Self {
        let total_results = i64::try_from(resources.len()).unwrap_or(i64::MAX);
        ListResponse {
            resources,
            total_results,
            start_index: 1,
            cursor: None,
        }
    }
}

impl<R: Serialize> Serialize for ListResponse<R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("schemas", &[LIST_RESPONSE_SCHEMA])?;
        m.serialize_entry("totalResults", &self.total_results)?;
        match &self.cursor {
            None => m.serialize_entry("startIndex", &self.start_index.max(1))?,
            Some(c) => {
                if let Some(next) = &c.next {
                    m.serialize_entry("nextCursor", next)?;
                }
                if let Some(previous) = &c.previous {
                    m.serialize_entry("previousCursor", previous)?;
                }
            }
        }
        m.serialize_entry("itemsPerPage", &self.resources.len())?;
        m.serialize_entry("Resources", &self.resources)?;
        m.end()
    }
}

/// One resource of a list page, written straight from its message.
// A page is built once, serialised and dropped; boxing the messages would cost an
// allocation per resource to save moving them once.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Resource<'a> {
    /// A user, written straight from its message with links under the base URL.
    User(pb::User, &'a str),
    /// A group, written straight from its message with links under the base URL; with
    /// its members or not.
    Group(pb::Group, &'a str, bool),
}

impl Serialize for Resource<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Resource::User(u, base_url) => UserJson::new(u, base_url).serialize(s),
            Resource::Group(g, base_url, members) => {
                GroupJson::new(g, base_url, *members).serialize(s)
            }
        }
    }
}

/// The effective parameters of a list or search request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    /// The filter expression, unparsed.
    pub filter: Option<String>,
    /// 1-based index of the first result, at least 1.
    pub start_index: i64,
    /// Page size, between 0 and the server maximum.
    pub count: i64,
    /// `cursor` (RFC 9865): `Some("")` asks for the first page by cursor.
    pub cursor: Option<String>,
    /// Requested sort attribute (sorting is not supported; kept for the caller).
    pub sort_by: Option<String>,
    /// Requested sort order.
    pub sort_order: Option<String>,
    /// Comma-separated attributes to return.
    pub attributes: Option<String>,
    /// Comma-separated attributes to leave out.
    pub excluded_attributes: Option<String>,
}

impl ListParams {
    /// Reads the query string of `GET /Users` or `GET /Groups`. Parameter names are
    /// case-insensitive and unknown parameters are ignored; a non-integer `startIndex`
    /// or `count` is `400 invalidValue`.
    pub fn from_query(
        pairs: &[(String, String)],
        default_count: i64,
        max_count: i64,
    ) -> Result<ListParams, ScimError> {
        let get = |name: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let text = |name: &str| {
            get(name)
                .filter(|v| !v.trim().is_empty())
                .map(str::to_owned)
        };
        let int = |name: &str| -> Result<Option<i64>, ScimError> {
            match get(name).map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => v.parse::<i64>().map(Some).map_err(|_| not_integer(name)),
            }
        };
        let cursor = get("cursor").map(|c| c.trim().to_owned());
        let start_index = int("startIndex")?;
        Ok(ListParams {
            filter: text("filter"),
            start_index: start(one_paging(start_index, cursor.as_deref())?),
            count: count(int("count")?, default_count, max_count),
            cursor,
            sort_by: text("sortBy"),
            sort_order: text("sortOrder"),
            attributes: text("attributes"),
            excluded_attributes: text("excludedAttributes"),
        })
    }

    /// Reads the body of `POST /.search` (RFC 7644 §3.4.3). `attributes` and
    /// `excludedAttributes` are arrays of names (a comma-separated string is tolerated).
    pub fn from_search_body(
        v: &Value,
        default_count: i64,
        max_count: i64,
    ) -> Result<ListParams, ScimError> {
        let obj = v
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("the search request must be a JSON object"))?;
        if let Some((_, schemas)) = get_ci(obj, "schemas") {
            let ok = schemas.as_array().is_some_and(|a| {
                a.iter().any(|s| {
                    s.as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case(SEARCH_REQUEST_SCHEMA))
                })
            });
            if !ok {
                return Err(ScimError::invalid_syntax(format!(
                    "\"schemas\" must contain {SEARCH_REQUEST_SCHEMA}"
                )));
            }
        }
        let field = |name: &str| get_ci(obj, name).map(|(_, v)| v).filter(|v| !v.is_null());
        let text = |name: &str| -> Result<Option<String>, ScimError> {
            match field(name) {
                None => Ok(None),
                Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "\"{name}\" must be a string"
                ))),
            }
        };
        let names = |name: &str| -> Result<Option<String>, ScimError> {
            match field(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone()).filter(|s| !s.trim().is_empty())),
                Some(Value::Array(items)) => {
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        let s = item.as_str().ok_or_else(|| {
                            ScimError::invalid_value(format!("\"{name}\" must list strings"))
                        })?;
                        out.push(s);
                    }
                    Ok(Some(out.join(",")).filter(|s| !s.is_empty()))
                }
                Some(_) => Err(ScimError::invalid_value(format!(
                    "\"{name}\" must be an array of strings"
                ))),
            }
        };
        let int = |name: &str| -> Result<Option<i64>, ScimError> {
            match field(name) {
                None => Ok(None),
                Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| not_integer(name)),
                Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| not_integer(name)),
                Some(_) => Err(not_integer(name)),
            }
        };
        let cursor = match field("cursor") {
            None => None,
            Some(Value::String(s)) => Some(s.trim().to_owned()),
            Some(_) => return Err(ScimError::invalid_value("\"cursor\" must be a string")),
        };
        let start_index = int("startIndex")?;
        Ok(ListParams {
            filter: text("filter")?,
            start_index: start(one_paging(start_index, cursor.as_deref())?),
            count: count(int("count")?, default_count, max_count),
            cursor,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            attributes: names("attributes")?,
            excluded_attributes: names("excludedAttributes")?,
        })
    }
}

/// `startIndex` unless the request also names a `cursor`: a request pages one way.
fn one_paging(start_index: Option<i64>, cursor: Option<&str>) -> Result<Option<i64>, ScimError> {
    if start_index.is_some() && cursor.is_some() {
        return Err(ScimError::invalid_value(
            "\"startIndex\" and \"cursor\" cannot be used together",
        ));
    }
    Ok(start_index)
}

fn not_integer(name: &str) -> ScimError {
    ScimError::invalid_value(format!("\"{name}\" must be an integer"))
}

fn start(v: Option<i64>) -> i64 {
    v.unwrap_or(1).max(1)
}

fn count(v: Option<i64>, default_count: i64, max_count: i64) -> i64 {
    let max = max_count.max(0);
    v.unwrap_or(default_count).clamp(0, max)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::ScimType;

    fn q(pairs: &[(&str, &str)]) -> Result<ListParams, ScimError> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ListParams::from_query(&owned, 100, 1000)
    }

    #[test]
    fn row_16_page_metadata_is_accurate_and_resources_always_present() {
        let page = |resources: Vec<Value>, total_results, start_index| {
            serde_json::to_value(ListResponse {
                resources,
                total_results,
                start_index,
                cursor: None,
            })
            .unwrap()
        };
        let r = page(vec![], 0, 1);
        assert_eq!(
            r,
            json!({"schemas":[LIST_RESPONSE_SCHEMA],"totalResults":0,"startIndex":1,
                   "itemsPerPage":0,"Resources":[]})
        );
        let r = page(vec![json!({"id":"a"}), json!({"id":"b"})], 250, 101);
        assert_eq!(r["itemsPerPage"], 2);
        assert_eq!(r["totalResults"], 250);
        assert_eq!(r["startIndex"], 101);
        assert_eq!(r["Resources"], json!([{"id":"a"}, {"id":"b"}]));
        assert_eq!(page(vec![], 0, -3)["startIndex"], 1);
    }

    #[test]
    fn cursor_paging_is_asked_for_with_cursor_and_never_with_start_index() {
        assert_eq!(q(&[("cursor", "")]).unwrap().cursor.as_deref(), Some(""));
        assert_eq!(
            q(&[("CURSOR", "abc")]).unwrap().cursor.as_deref(),
            Some("abc")
        );
        assert_eq!(q(&[]).unwrap().cursor, None);
        let e = q(&[("cursor", ""), ("startIndex", "1")]).unwrap_err();
        assert_eq!(e.scim_type(), Some(ScimType::InvalidValue));
        let body = json!({"cursor": "", "count": 5});
        let p = ListParams::from_search_body(&body, 100, 1000).unwrap();
        assert_eq!((p.cursor.as_deref(), p.count), (Some(""), 5));
        assert!(ListParams::from_search_body(&json!({"cursor": 5}), 100, 1000).is_err());
    }

    #[test]
    fn a_cursor_page_names_the_next_cursor_and_no_start_index() {
        let page = |cursor| {
            serde_json::to_value(ListResponse {
                resources: vec![json!({"id": "a"})],
                total_results: 3,
                start_index: 1,
                cursor,
            })
            .unwrap()
        };
        let more = page(Some(Cursors {
            next: Some("next".to_owned()),
            previous: Some("prev".to_owned()),
        }));
        assert_eq!(more["nextCursor"], "next");
        assert_eq!(more["previousCursor"], "prev");
        assert!(more.get("startIndex").is_none());
        let last = page(Some(Cursors::default()));
        assert!(last.get("nextCursor").is_none() && last.get("startIndex").is_none());
        assert!(last.get("previousCursor").is_none());
        assert_eq!(last["itemsPerPage"], 1);
        assert_eq!(page(None)["startIndex"], 1);
    }

    #[test]
    fn defaults_when_absent() {
        let p = q(&[]).unwrap();
        assert_eq!((p.start_index, p.count), (1, 100));
        assert_eq!(p.filter, None);
    }

    #[test]
    fn okta_paging_query() {
        let p = q(&[
            ("filter", r#"userName eq "a@b""#),
            ("startIndex", "101"),
            ("count", "100"),
        ])
        .unwrap();
        assert_eq!(p.filter.as_deref(), Some(r#"userName eq "a@b""#));
        assert_eq!((p.start_index, p.count), (101, 100));
    }

    #[test]
    fn edge_cases_clamp() {
        assert_eq!(q(&[("count", "-1")]).unwrap().count, 0);
        assert_eq!(q(&[("count", "0")]).unwrap().count, 0);
        assert_eq!(q(&[("startIndex", "0")]).unwrap().start_index, 1);
        assert_eq!(q(&[("startIndex", "-5")]).unwrap().start_index, 1);
        assert_eq!(q(&[("count", "100000")]).unwrap().count, 1000);
        assert_eq!(q(&[("count", " 7 ")]).unwrap().count, 7);
    }

    #[test]
    fn non_integers_are_invalid_value() {
        for (k, v) in [
            ("count", "abc"),
            ("startIndex", "1.5"),
            ("count", "99999999999999999999"),
        ] {
            let e = q(&[(k, v)]).unwrap_err();
            assert_eq!(e.scim_type(), Some(ScimType::InvalidValue));
        }
    }

    #[test]
    fn names_are_case_insensitive_and_unknown_ignored() {
        let p = q(&[
            ("FILTER", "title pr"),
            ("STARTINDEX", "3"),
            ("Count", "4"),
            ("excludedattributes", "members"),
            ("ATTRIBUTES", "displayName"),
            ("sortby", "userName"),
            ("sortOrder", "descending"),
            ("aadOptscim062020", ""),
        ])
        .unwrap();
        assert_eq!(p.filter.as_deref(), Some("title pr"));
        assert_eq!((p.start_index, p.count), (3, 4));
        assert_eq!(p.excluded_attributes.as_deref(), Some("members"));
        assert_eq!(p.attributes.as_deref(), Some("displayName"));
        assert_eq!(p.sort_by.as_deref(), Some("userName"));
        assert_eq!(p.sort_order.as_deref(), Some("descending"));
    }

    #[test]
    fn search_body() {
        let p = ListParams::from_search_body(
            &json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "attributes": ["displayName", "userName"],
                "excludedAttributes": ["emails"],
                "filter": "displayName sw \"smith\"",
                "startIndex": 1,
                "count": 10
            }),
            100,
            1000,
        )
        .unwrap();
        assert_eq!(p.attributes.as_deref(), Some("displayName,userName"));
        assert_eq!(p.excluded_attributes.as_deref(), Some("emails"));
        assert_eq!(p.filter.as_deref(), Some("displayName sw \"smith\""));
        assert_eq!((p.start_index, p.count), (1, 10));

        let p =
            ListParams::from_search_body(&json!({"count": -3, "startIndex": 0}), 50, 1000).unwrap();
        assert_eq!((p.start_index, p.count), (1, 0));
        let p = ListParams::from_search_body(&json!({}), 50, 20).unwrap();
        assert_eq!(p.count, 20);

        for bad in [
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}),
            json!([]),
        ] {
            let e = ListParams::from_search_body(&bad, 50, 100).unwrap_err();
            assert_eq!(e.scim_type(), Some(ScimType::InvalidSyntax));
        }
        for bad in [
            json!({"count": 1.5}),
            json!({"startIndex": "x"}),
            json!({"attributes": [1]}),
            json!({"filter": 3}),
        ] {
            let e = ListParams::from_search_body(&bad, 50, 100).unwrap_err();
            assert_eq!(e.scim_type(), Some(ScimType::InvalidValue), "{bad}");
        }
    }
}
