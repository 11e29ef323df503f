//! Unit tests of the filter compiler, evaluator and planner.

use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::filter::Kind as F;
use scim_proto::identity::v1::filter_value::Kind as V;

use super::plan::{IndexKey, index_key};
use super::*;

fn cmp(attr: &str, op: pb::CompareOp, value: Option<V>) -> pb::Filter {
    pb::Filter {
        kind: Some(F::Compare(pb::Comparison {
            attribute: attr.into(),
            op: op as i32,
            value: value.map(|k| pb::FilterValue { kind: Some(k) }),
        })),
    }
}

fn s(v: &str) -> Option<V> {
    Some(V::StringValue(v.into()))
}

fn and(ops: Vec<pb::Filter>) -> pb::Filter {
    pb::Filter {
        kind: Some(F::And(pb::AndFilter { operands: ops })),
    }
}

fn or(ops: Vec<pb::Filter>) -> pb::Filter {
    pb::Filter {
        kind: Some(F::Or(pb::OrFilter { operands: ops })),
    }
}

fn not(op: pb::Filter) -> pb::Filter {
    pb::Filter {
        kind: Some(F::Not(Box::new(pb::NotFilter {
            operand: Some(Box::new(op)),
        }))),
    }
}

fn vpath(attr: &str, inner: pb::Filter) -> pb::Filter {
    pb::Filter {
        kind: Some(F::ValuePath(Box::new(pb::ValuePathFilter {
            attribute: attr.into(),
            filter: Some(Box::new(inner)),
        }))),
    }
}

fn user() -> pb::User {
    pb::User {
        id: "Id-1".into(),
        user_name: "Alice@Example.com".into(),
        external_id: Some("Ext-1".into()),
        title: Some("Engineer".into()),
        active: Some(true),
        emails: vec![
            pb::MultiValue {
                value: "alice@work.example".into(),
                r#type: Some("work".into()),
                primary: true,
                display: None,
            },
            pb::MultiValue {
                value: "alice@home.example".into(),
                r#type: Some("home".into()),
                primary: false,
                display: None,
            },
        ],
        enterprise: Some(pb::EnterpriseUser {
            department: Some("R&D".into()),
            ..Default::default()
        }),
        meta: Some(pb::Meta {
            created: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            last_modified: None,
            version: 3,
        }),
        ..Default::default()
    }
}

fn matches(f: pb::Filter) -> bool {
    compile(ResourceKind::User, &f).unwrap().matches(&user())
}

fn err(f: pb::Filter) -> String {
    compile(ResourceKind::User, &f).unwrap_err().to_string()
}

use pb::CompareOp as Op_;

#[test]
fn string_operators_fold_case_for_case_insensitive_attributes() {
    assert!(matches(cmp("userName", Op_::Eq, s("alice@example.COM"))));
    assert!(matches(cmp("USERNAME", Op_::Sw, s("ALICE"))));
    assert!(matches(cmp("title", Op_::Co, s("GINE"))));
    assert!(matches(cmp("title", Op_::Ew, s("eer"))));
    assert!(!matches(cmp("title", Op_::Ne, s("engineer"))));
    assert!(matches(cmp("title", Op_::Gt, s("a"))));
    assert!(matches(cmp("title", Op_::Ge, s("engineer"))));
    assert!(matches(cmp("title", Op_::Lt, s("z"))));
    assert!(matches(cmp("title", Op_::Le, s("ENGINEER"))));
    assert!(!matches(cmp("title", Op_::Lt, s("e"))));
}

#[test]
fn ids_and_external_ids_compare_exactly() {
    assert!(matches(cmp("id", Op_::Eq, s("Id-1"))));
    assert!(!matches(cmp("id", Op_::Eq, s("id-1"))));
    assert!(matches(cmp("externalId", Op_::Eq, s("Ext-1"))));
    assert!(!matches(cmp("externalId", Op_::Eq, s("EXT-1"))));
}

#[test]
fn presence_missing_values_and_null() {
    assert!(matches(cmp("title", Op_::Pr, None)));
    assert!(!matches(cmp("nickName", Op_::Pr, None)));
    assert!(
        matches(cmp("nickName", Op_::Ne, s("x"))),
        "ne on a missing attribute"
    );
    assert!(!matches(cmp("nickName", Op_::Eq, s("x"))));
    assert!(matches(cmp("nickName", Op_::Eq, Some(V::NullValue(true)))));
    assert!(matches(cmp("title", Op_::Ne, Some(V::NullValue(true)))));
    assert!(!matches(cmp("addresses", Op_::Pr, None)));
}

#[test]
fn multi_valued_attributes_match_any_value() {
    assert!(matches(cmp("emails", Op_::Eq, s("ALICE@home.example"))));
    assert!(matches(cmp("emails.type", Op_::Eq, s("work"))));
    assert!(matches(cmp(
        "emails.primary",
        Op_::Eq,
        Some(V::BoolValue(true))
    )));
    assert!(!matches(cmp("phoneNumbers", Op_::Pr, None)));
}

#[test]
fn value_paths_require_one_value_to_match_everything() {
    let work = |addr: &str| {
        vpath(
            "emails",
            and(vec![
                cmp("type", Op_::Eq, s("work")),
                cmp("value", Op_::Eq, s(addr)),
            ]),
        )
    };
    assert!(matches(work("alice@work.example")));
    assert!(!matches(work("alice@home.example")));
}

#[test]
fn logical_operators() {
    let yes = cmp("title", Op_::Pr, None);
    let no = cmp("nickName", Op_::Pr, None);
    assert!(matches(and(vec![yes.clone(), not(no.clone())])));
    assert!(matches(or(vec![no.clone(), yes.clone()])));
    assert!(!matches(and(vec![yes, no])));
}

#[test]
fn booleans_dates_versions_and_enterprise() {
    assert!(matches(cmp("active", Op_::Eq, Some(V::BoolValue(true)))));
    assert!(matches(cmp(
        "meta.created",
        Op_::Gt,
        s("2023-01-01T00:00:00Z")
    )));
    assert!(!matches(cmp(
        "meta.created",
        Op_::Lt,
        s("2023-11-14T22:13:20Z")
    )));
    assert!(matches(cmp(
        "meta.created",
        Op_::Le,
        s("2023-11-14T22:13:20Z")
    )));
    assert!(matches(cmp(
        "meta.created",
        Op_::Eq,
        Some(V::DateValue(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0
        }))
    )));
    assert!(matches(cmp(
        "meta.version",
        Op_::Ge,
        Some(V::NumberValue(3.0))
    )));
    assert!(matches(cmp("meta.version", Op_::Eq, s("W/\"3\""))));
    assert!(matches(cmp(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        Op_::Eq,
        s("r&d")
    )));
}

#[test]
fn malformed_filters_are_invalid_arguments_naming_the_problem() {
    assert!(err(cmp("bogus", Op_::Eq, s("x"))).contains("'bogus'"));
    assert!(err(cmp("password", Op_::Eq, s("x"))).contains("unknown attribute"));
    assert!(err(cmp("userName", Op_::Eq, Some(V::BoolValue(true)))).contains("string"));
    assert!(err(cmp("active", Op_::Gt, Some(V::BoolValue(true)))).contains("only"));
    assert!(err(cmp("meta.created", Op_::Eq, s("yesterday"))).contains("RFC 3339"));
    assert!(err(cmp("userName", Op_::Unspecified, s("x"))).contains("operator"));
    assert!(err(cmp("userName", Op_::Eq, None)).contains("needs a value"));
    assert!(err(cmp("addresses", Op_::Eq, s("x"))).contains("only 'pr'"));
    assert!(err(and(vec![])).contains("operands"));
    assert!(err(vpath("userName", cmp("value", Op_::Pr, None))).contains("multi-valued"));
    assert!(
        err(vpath(
            "emails",
            vpath("emails", cmp("value", Op_::Pr, None))
        ))
        .contains("nested")
    );
    assert!(err(vpath("emails", cmp("bogus", Op_::Pr, None))).contains("'bogus'"));
}

#[test]
fn depth_and_size_are_bounded() {
    let mut deep = cmp("title", Op_::Pr, None);
    for _ in 0..MAX_DEPTH {
        deep = not(deep);
    }
    assert!(err(deep).contains("deeper"));
    let widest = or(vec![cmp("title", Op_::Pr, None); MAX_FILTER_COMPARISONS]);
    assert!(compile(ResourceKind::User, &widest).is_ok());
    let wide = or(vec![
        cmp("title", Op_::Pr, None);
        MAX_FILTER_COMPARISONS + 1
    ]);
    assert!(err(wide).contains("comparisons"));
}

#[test]
fn groups_filter_on_members() {
    let g = pb::Group {
        id: "g".into(),
        display_name: "Admins".into(),
        members: vec![pb::Member {
            value: "U1".into(),
            r#type: "User".into(),
            display: Some("Bob".into()),
        }],
        ..Default::default()
    };
    let f = |x| compile(ResourceKind::Group, &x).unwrap();
    assert!(f(cmp("members", Op_::Eq, s("U1"))).matches(&g));
    assert!(!f(cmp("members", Op_::Eq, s("u1"))).matches(&g));
    assert!(f(cmp("members.display", Op_::Eq, s("bob"))).matches(&g));
    assert!(f(cmp("displayname", Op_::Eq, s("admins"))).matches(&g));
    assert!(f(cmp("members", Op_::Pr, None)).needs_related());
    assert!(!f(cmp("displayName", Op_::Pr, None)).needs_related());
    assert!(compile(ResourceKind::Group, &cmp("userName", Op_::Pr, None)).is_err());
}

#[test]
fn the_planner_picks_the_most_selective_top_level_eq() {
    let key = |f| index_key(&compile(ResourceKind::User, &f).unwrap());
    assert_eq!(
        key(cmp("userName", Op_::Eq, s("Bob"))),
        Some(IndexKey::UserName("bob".into()))
    );
    assert_eq!(
        key(and(vec![
            cmp("title", Op_::Eq, s("x")),
            cmp("externalId", Op_::Eq, s("E")),
            cmp("id", Op_::Eq, s("I")),
        ])),
        Some(IndexKey::Id("I".into()))
    );
    assert_eq!(
        key(vpath(
            "emails",
            and(vec![
                cmp("type", Op_::Eq, s("work")),
                cmp("value", Op_::Eq, s("A@B"))
            ])
        )),
        Some(IndexKey::EmailValue("a@b".into()))
    );
    assert_eq!(key(or(vec![cmp("userName", Op_::Eq, s("a"))])), None);
    assert_eq!(key(not(cmp("userName", Op_::Eq, s("a")))), None);
    assert_eq!(key(cmp("userName", Op_::Co, s("a"))), None);
}

#[test]
fn shapes_carry_no_values_and_fingerprints_are_stable() {
    let f = and(vec![
        cmp("userName", Op_::Eq, s("secret@example.com")),
        vpath("emails", cmp("type", Op_::Eq, s("work"))),
    ]);
    // The span's shape is the wire filter's, in the format the gateway writes too.
    let shape = scim_model::filter_shape::filter_shape(&f);
    assert_eq!(shape, "userName eq ? and emails[type eq ?]");
    assert!(!shape.contains("secret"));
    assert_eq!(fingerprint(Some(&f)), fingerprint(Some(&f.clone())));
    assert_ne!(fingerprint(Some(&f)), fingerprint(None));
}
