//! `/Bulk` requests (RFC 7644 §3.7), independent of HTTP: reading the request, the
//! `bulkId` references between its operations, and the order they may run in.
//!
//! RFC 7644 §3.7 lets a server reorder operations as long as the client's intent is
//! kept. The plan keeps it this way: an operation runs only after every operation whose
//! `bulkId` it references (so a group may name users created later in the request),
//! otherwise in request order; creates that reference nothing of each other run
//! together in one batch, and every other operation (PUT, PATCH, DELETE) runs alone, after
//! everything before it. Circular references, references to a `bulkId` no operation
//! defines, and whatever waits on either are found before anything runs, and those
//! operations are answered 409 instead of being attempted.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use serde_json::{Map, Value};

use scim_model::BULK_REQUEST_SCHEMA;
use scim_model::limits::{MAX_BULK_OPERATIONS, MAX_ID_BYTES};

use crate::error::ScimError;

/// The prefix of a value that names another operation's resource by its `bulkId`.
pub const BULK_ID_PREFIX: &str = "bulkId:";

/// The HTTP method of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Create.
    Post,
    /// Replace.
    Put,
    /// Modify.
    Patch,
    /// Delete.
    Delete,
}

impl Method {
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "POST" => Some(Method::Post),
            "PUT" => Some(Method::Put),
            "PATCH" => Some(Method::Patch),
            "DELETE" => Some(Method::Delete),
            _ => None,
        }
    }

    /// The method for an HTTP request.
    pub fn http(self) -> http::Method {
        match self {
            Method::Post => http::Method::POST,
            Method::Put => http::Method::PUT,
            Method::Patch => http::Method::PATCH,
            Method::Delete => http::Method::DELETE,
        }
    }
}

/// The resource endpoint an operation addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `Users` or `Groups`.
    pub endpoint: &'static str,
    /// The resource id (`None` for a POST), possibly a `bulkId:` reference.
    pub id: Option<String>,
}

/// One operation, checked as far as it can be without running it.
#[derive(Debug, Clone)]
pub struct Operation {
    /// `method` as the client sent it, echoed in the response.
    pub method_text: String,
    /// The client's `bulkId`.
    pub bulk_id: Option<String>,
    /// `version`, sent as `If-Match`.
    pub version: Option<String>,
    /// What the operation does, or why it cannot run.
    pub checked: Result<Checked, ScimError>,
}

/// A well-formed operation.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Its method.
    pub method: Method,
    /// Its resource.
    pub target: Target,
    /// Its body (absent for DELETE).
    pub data: Option<Value>,
    /// The `bulkId`s its path and data reference, each once, in the order first seen.
    pub refs: Vec<String>,
}

/// A parsed `/Bulk` request.
#[derive(Debug, Clone)]
pub struct BulkRequest {
    /// Errors after which no further operation starts (`failOnErrors`); `None`: never stop.
    pub fail_on_errors: Option<usize>,
    /// The operations in request order.
    pub operations: Vec<Operation>,
}

/// The value of `key` in `obj`, matching the name case-insensitively as SCIM does.
fn get<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

/// Reads a BulkRequest body. Problems with the request as a whole (it is not a
/// BulkRequest, too many operations, a `bulkId` used twice) fail it; a problem with one
/// operation fails only that operation.
pub fn parse(body: &Value) -> Result<BulkRequest, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the request body must be a JSON object"))?;
    if let Some(schemas) = get(obj, "schemas") {
        let named = schemas.as_array().is_some_and(|a| {
            a.iter().any(|s| {
                s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(BULK_REQUEST_SCHEMA))
            })
        });
        if !named {
            return Err(ScimError::invalid_syntax(format!(
                "`schemas` must contain {BULK_REQUEST_SCHEMA}"
            )));
        }
    }
    let fail_on_errors = match get(obj, "failOnErrors") {
        None => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => {
                return Err(ScimError::invalid_value(
                    "`failOnErrors` must be a positive integer",
                ));
            }
        },
    };
    let ops = get(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("`Operations` must be an array"))?;
    if ops.len() > MAX_BULK_OPERATIONS {
        return Err(ScimError::PayloadTooLarge(format!(
            "the request has {} operations; this server's maxOperations is {MAX_BULK_OPERATIONS}",
            ops.len()
        )));
    }
    let operations: Vec<Operation> = ops.iter().map(operation).collect();
    let mut seen = HashSet::new();
    for id in operations.iter().filter_map(|o| o.bulk_id.as_deref()) {
        if !seen.insert(id) {
            return Err(ScimError::invalid_value(format!(
                "bulkId `{id}` is given to more than one operation"
            )));
        }
    }
    Ok(BulkRequest {
        fail_on_errors,
        operations,
    })
}

/// Reads one entry of `Operations`.
fn operation(v: &Value) -> Operation {
    let Some(obj) = v.as_object() else {
        return Operation {
            method_text: String::new(),
            bulk_id: None,
            version: None,
            checked: Err(ScimError::invalid_syntax(
                "an operation must be a JSON object",
            )),
        };
    };
    let text = |key| get(obj, key).and_then(Value::as_str).map(str::to_owned);
    let method_text = text("method").unwrap_or_default();
    // A bulkId longer than an id could be is cut to keep it out of the response whole.
    let bulk_id = text("bulkId").map(|b| truncate(b, MAX_ID_BYTES));
    let version = text("version");
    let checked = check(obj, &method_text, bulk_id.as_deref());
    Operation {
        method_text,
        bulk_id,
        version,
        checked,
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

fn check(
    obj: &Map<String, Value>,
    method_text: &str,
    bulk_id: Option<&str>,
) -> Result<Checked, ScimError> {
    let method = Method::parse(method_text).ok_or_else(|| {
        ScimError::invalid_syntax("`method` must be one of POST, PUT, PATCH and DELETE")
    })?;
    if get(obj, "bulkId").is_some_and(|b| !b.is_string()) {
        return Err(ScimError::invalid_syntax("`bulkId` must be a string"));
    }
    match bulk_id {
        Some("") => return Err(ScimError::invalid_value("`bulkId` must not be empty")),
        None if method == Method::Post => {
            return Err(ScimError::invalid_syntax(
                "`bulkId` is required for a POST operation",
            ));
        }
        _ => {}
    }
    let path = get(obj, "path")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax("`path` is required"))?;
    let target = target(path, method)?;
    let data = match (method, get(obj, "data")) {
        (Method::Delete, _) => None,
        (_, Some(d)) if d.is_object() => Some(d.clone()),
        (_, Some(_)) => return Err(ScimError::invalid_syntax("`data` must be a JSON object")),
        (_, None) => {
            return Err(ScimError::invalid_syntax(format!(
                "`data` is required for a {} operation",
                method_text.to_ascii_uppercase()
            )));
        }
    };
    let mut refs = Vec::new();
    if let Some(id) = target
        .id
        .as_deref()
        .and_then(|i| i.strip_prefix(BULK_ID_PREFIX))
    {
        refs.push(id.to_owned());
    }
    if let Some(d) = &data {
        collect_refs(d, &mut refs);
    }
    Ok(Checked {
        method,
        target,
        data,
        refs,
    })
}

/// The endpoint and id of `path`: `/Users` or `/Groups` for a POST, `/Users/{id}` or
/// `/Groups/{id}` otherwise.
fn target(path: &str, method: Method) -> Result<Target, ScimError> {
    let bad = || {
        ScimError::invalid_value(if method == Method::Post {
            "a POST operation's `path` must be /Users or /Groups"
        } else {
            "the operation's `path` must be /Users/{id} or /Groups/{id}"
        })
    };
    let rest = path.strip_prefix('/').ok_or_else(bad)?;
    let (endpoint, id) = match rest.split_once('/') {
        Some((e, id)) => (e, Some(id)),
        None => (rest, None),
    };
    let endpoint = match endpoint {
        "Users" => "Users",
        "Groups" => "Groups",
        _ => return Err(bad()),
    };
    let id_ok =
        |id: &str| !id.is_empty() && id.len() <= MAX_ID_BYTES && !id.contains(['/', '?', '#']);
    match (method, id) {
        (Method::Post, None) => Ok(Target { endpoint, id: None }),
        (Method::Post, Some(_)) => Err(bad()),
        (_, Some(id)) if id_ok(id) => Ok(Target {
            endpoint,
            id: Some(id.to_owned()),
        }),
        (_, _) => Err(bad()),
    }
}

/// Adds every `bulkId:` reference in `v` to `refs`.
fn collect_refs(v: &Value, refs: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(BULK_ID_PREFIX)
                && !refs.iter().any(|r| r == id)
            {
                refs.push(id.to_owned());
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, refs)),
        Value::Object(o) => o.values().for_each(|x| collect_refs(x, refs)),
        _ => {}
    }
}

/// Replaces every `bulkId:` reference in `v` by the id its operation created.
pub fn resolve(v: &mut Value, created: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(BULK_ID_PREFIX).and_then(|b| created.get(b)) {
                *s = id.clone();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| resolve(x, created)),
        Value::Object(o) => o.values_mut().for_each(|x| resolve(x, created)),
        _ => {}
    }
}

/// The order operations run in: batches run one after another, the operations of a
/// batch at the same time. Operations that cannot run at all are in `refused`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Operation indices, batch by batch.
    pub batches: Vec<Vec<usize>>,
    /// Operations refused before anything runs, with the reason: a reference to a
    /// `bulkId` no operation defines, or a circular reference.
    pub refused: Vec<(usize, String)>,
}

/// Plans `ops` (see the module documentation).
pub fn plan(ops: &[Operation]) -> Plan {
    let creator: HashMap<&str, usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| o.checked.as_ref().is_ok_and(|c| c.method == Method::Post))
        .filter_map(|(i, o)| o.bulk_id.as_deref().map(|b| (b, i)))
        .collect();
    let mut refused = Vec::new();
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    let mut unknown = vec![false; ops.len()];
    for (i, op) in ops.iter().enumerate() {
        let Ok(c) = &op.checked else { continue };
        for r in &c.refs {
            match creator.get(r.as_str()) {
                Some(&j) => deps[i].push(j),
                None if !unknown[i] => {
                    unknown[i] = true;
                    refused.push((i, format!("no operation in this request has bulkId `{r}`")));
                }
                None => {}
            }
        }
    }
    // Kahn's algorithm, taking the earliest ready operation first so that request order
    // is kept wherever references allow it.
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    for (i, ds) in deps.iter().enumerate() {
        for &j in ds {
            dependents[j].push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..ops.len())
        .filter(|&i| waiting[i] == 0 && !unknown[i])
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(ops.len());
    let mut placed = vec![false; ops.len()];
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        placed[i] = true;
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] == 0 && !unknown[d] {
                ready.push(Reverse(d));
            }
        }
    }
    // What is left waits, directly or through others, on a circle of references or on
    // an operation refused above: none of it can run.
    for i in 0..ops.len() {
        if placed[i] || unknown[i] {
            continue;
        }
        let reason = circle_from(i, &deps, &placed, ops).unwrap_or_else(|| {
            let waits_on = deps[i]
                .iter()
                .find(|&&d| !placed[d])
                .and_then(|&d| ops[d].bulk_id.clone())
                .unwrap_or_default();
            format!("it waits on bulkId `{waits_on}`, whose operation cannot run")
        });
        refused.push((i, reason));
    }
    refused.sort_by_key(|(i, _)| *i);
    Plan {
        batches: batches(&order, &deps, ops),
        refused,
    }
}

/// Describes the circle of references `start` waits on, if there is one.
fn circle_from(
    start: usize,
    deps: &[Vec<usize>],
    placed: &[bool],
    ops: &[Operation],
) -> Option<String> {
    let mut path = vec![start];
    let mut at = start;
    loop {
        let next = *deps[at].iter().find(|&&d| !placed[d])?;
        if let Some(pos) = path.iter().position(|&p| p == next) {
            let name = |i: usize| ops[i].bulk_id.clone().unwrap_or_default();
            let mut names: Vec<String> = path[pos..].iter().map(|&p| name(p)).collect();
            names.push(name(next));
            return Some(format!(
                "circular bulkId reference ({}); each of these operations waits on the next",
                names.join(" → ")
            ));
        }
        path.push(next);
        at = next;
    }
}

/// Cuts `order` into batches: creates join the current batch unless they reference an
/// operation in it; any other operation runs alone.
fn batches(order: &[usize], deps: &[Vec<usize>], ops: &[Operation]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for &i in order {
        let concurrent = match &ops[i].checked {
            Ok(c) => c.method == Method::Post,
            // Fails without running: it can share any batch.
            Err(_) => true,
        };
        if concurrent && !deps[i].iter().any(|d| current.contains(d)) {
            current.push(i);
            continue;
        }
        if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        if concurrent {
            current.push(i);
        } else {
            out.push(vec![i]);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(ops: Value) -> BulkRequest {
        parse(&json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": ops})).unwrap()
    }

    fn user(bulk_id: &str) -> Value {
        json!({"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": {"userName": bulk_id}})
    }

    fn group(bulk_id: &str, members: &[&str]) -> Value {
        let members: Vec<Value> = members
            .iter()
            .map(|m| json!({"value": format!("bulkId:{m}")}))
            .collect();
        json!({"method": "POST", "path": "/Groups", "bulkId": bulk_id,
               "data": {"displayName": bulk_id, "members": members}})
    }

    #[test]
    fn independent_creates_run_together() {
        let r = request(json!([user("a"), user("b"), user("c")]));
        assert_eq!(plan(&r.operations).batches, vec![vec![0, 1, 2]]);
    }

    #[test]
    fn a_group_may_name_users_created_after_it() {
        let r = request(json!([group("g", &["a", "b"]), user("a"), user("b")]));
        let p = plan(&r.operations);
        assert_eq!(p.batches, vec![vec![1, 2], vec![0]]);
        assert!(p.refused.is_empty());
        let Ok(c) = &r.operations[0].checked else {
            panic!()
        };
        assert_eq!(c.refs, vec!["a", "b"]);
    }

    #[test]
    fn updates_run_alone_and_in_request_order() {
        let r = request(json!([
            user("a"),
            {"method": "PATCH", "path": "/Users/bulkId:a", "data": {"Operations": []}},
            user("b"),
            {"method": "DELETE", "path": "/Users/x"},
            user("c"),
        ]));
        assert_eq!(
            plan(&r.operations).batches,
            vec![vec![0], vec![1], vec![2], vec![3], vec![4]]
        );
    }

    #[test]
    fn circles_are_refused_with_the_circle_named() {
        let r = request(json!([
            group("x", &["y"]),
            group("y", &["x"]),
            group("z", &["x"]),
            user("u"),
            group("self", &["self"]),
        ]));
        let p = plan(&r.operations);
        assert_eq!(p.batches, vec![vec![3]]);
        let refused: Vec<usize> = p.refused.iter().map(|(i, _)| *i).collect();
        assert_eq!(refused, vec![0, 1, 2, 4]);
        assert!(p.refused[0].1.contains("x → y → x"), "{}", p.refused[0].1);
        assert!(p.refused[2].1.contains("x → y → x"), "{}", p.refused[2].1);
        assert!(p.refused[3].1.contains("self → self"), "{}", p.refused[3].1);
    }

    #[test]
    fn unknown_references_are_refused() {
        let r = request(json!([group("g", &["nobody"]), user("a")]));
        let p = plan(&r.operations);
        assert_eq!(p.batches, vec![vec![1]]);
        assert_eq!(p.refused.len(), 1);
        assert!(p.refused[0].1.contains("`nobody`"));
    }

    #[test]
    fn what_waits_on_a_refused_operation_is_refused_too() {
        // From the fuzzer: y waits on x, which names a bulkId nobody defines, and z waits
        // on y; none of them can run, and nothing may be planned beside what it needs.
        let r = request(json!([
            group("x", &["y:"]),
            group("z", &["y"]),
            group("y", &["x"]),
            user("u"),
        ]));
        let p = plan(&r.operations);
        assert_eq!(p.batches, vec![vec![3]]);
        let refused: Vec<usize> = p.refused.iter().map(|(i, _)| *i).collect();
        assert_eq!(refused, vec![0, 1, 2]);
        assert!(p.refused[0].1.contains("`y:`"), "{}", p.refused[0].1);
        assert!(p.refused[1].1.contains("bulkId `y`"), "{}", p.refused[1].1);
        assert!(p.refused[2].1.contains("bulkId `x`"), "{}", p.refused[2].1);
    }

    #[test]
    fn request_level_errors() {
        let too_many: Vec<Value> = (0..=MAX_BULK_OPERATIONS)
            .map(|i| user(&i.to_string()))
            .collect();
        let e = parse(&json!({"Operations": too_many})).unwrap_err();
        assert_eq!(e.status(), 413);
        let e = parse(&json!({"Operations": [user("a"), user("a")]})).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(parse(&json!({"schemas": ["urn:x"], "Operations": []})).is_err());
        assert!(parse(&json!({"Operations": [], "failOnErrors": 0})).is_err());
        assert!(parse(&json!({"operations": "x"})).is_err());
        let ok = parse(&json!({"operations": [], "FAILONERRORS": 2})).unwrap();
        assert_eq!(ok.fail_on_errors, Some(2));
    }

    #[test]
    fn operation_level_errors() {
        let r = request(json!([
            {"method": "GET", "path": "/Users"},
            {"method": "POST", "path": "/Users", "data": {}},
            {"method": "POST", "path": "/Users/1", "bulkId": "q", "data": {}},
            {"method": "PUT", "path": "/Users", "data": {}},
            {"method": "PUT", "path": "/Users/1"},
            {"method": "DELETE", "path": "/Widgets/1"},
            {"method": "patch", "path": "/Groups/1?x=1", "data": {}},
            "not an object",
            {"method": "delete", "path": "/Groups/1"},
        ]));
        let ok: Vec<bool> = r.operations.iter().map(|o| o.checked.is_ok()).collect();
        assert_eq!(
            ok,
            [false, false, false, false, false, false, false, false, true]
        );
    }

    #[test]
    fn references_resolve_everywhere_in_the_data() {
        let mut v =
            json!({"members": [{"value": "bulkId:a"}, {"value": "bulkId:zz"}], "x": "bulkId:a"});
        let created = HashMap::from([("a".to_owned(), "id-1".to_owned())]);
        resolve(&mut v, &created);
        assert_eq!(
            v,
            json!({"members": [{"value": "id-1"}, {"value": "bulkId:zz"}], "x": "id-1"})
        );
    }
}
