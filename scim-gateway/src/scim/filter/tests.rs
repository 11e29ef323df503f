//! Filter grammar tests: every operator and form, the invalid inputs, and a
//! property-style test that random and truncated inputs never panic.

use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::filter::Kind;
use scim_proto::identity::v1::filter_value::Kind as V;

use super::*;
use crate::error::ScimType;
use scim_model::ENTERPRISE_USER_SCHEMA;

fn user(f: &str) -> pb::Filter {
    parse(f, ResourceKind::User).unwrap_or_else(|e| panic!("{f}: {e}"))
}

fn user_err(f: &str) -> String {
    let e = parse(f, ResourceKind::User).expect_err(f);
    assert_eq!(e.scim_type(), Some(ScimType::InvalidFilter), "{f}");
    e.to_string()
}

fn cmp(attr: &str, op: pb::CompareOp, v: Option<V>) -> pb::Filter {
    pb::Filter {
        kind: Some(Kind::Compare(pb::Comparison {
            attribute: attr.into(),
            op: op as i32,
            value: v.map(|k| pb::FilterValue { kind: Some(k) }),
        })),
    }
}

fn s(v: &str) -> Option<V> {
    Some(V::StringValue(v.into()))
}

#[test]
fn okta_username_lookup() {
    assert_eq!(
        user(r#"userName eq "test.user@okta.local""#),
        cmp("userName", pb::CompareOp::Eq, s("test.user@okta.local"))
    );
    assert_eq!(
        shape(&user(r#"userName eq "test.user@okta.local""#)),
        "userName eq ?"
    );
}

#[test]
fn every_operator_parses() {
    use pb::CompareOp::*;
    for (word, op) in [
        ("eq", Eq),
        ("ne", Ne),
        ("co", Co),
        ("sw", Sw),
        ("ew", Ew),
        ("gt", Gt),
        ("ge", Ge),
        ("lt", Lt),
        ("le", Le),
    ] {
        assert_eq!(
            user(&format!(r#"title {word} "x""#)),
            cmp("title", op, s("x"))
        );
        assert_eq!(
            user(&format!(r#"title {} "x""#, word.to_uppercase())),
            cmp("title", op, s("x"))
        );
    }
    assert_eq!(user("title pr"), cmp("title", Pr, None));
    assert_eq!(user("title PR"), cmp("title", Pr, None));
}

#[test]
fn literals() {
    use pb::CompareOp::*;
    assert_eq!(
        user("active eq true"),
        cmp("active", Eq, Some(V::BoolValue(true)))
    );
    assert_eq!(
        user("active eq FALSE"),
        cmp("active", Eq, Some(V::BoolValue(false)))
    );
    assert_eq!(
        user(r#"active eq "False""#),
        cmp("active", Eq, Some(V::BoolValue(false)))
    );
    assert_eq!(
        user("title eq null"),
        cmp("title", Eq, Some(V::NullValue(true)))
    );
    assert_eq!(
        user("meta.version gt -1.5e2"),
        cmp("meta.version", Gt, Some(V::NumberValue(-150.0)))
    );
    assert_eq!(
        user(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#),
        cmp("meta.lastModified", Gt, s("2011-05-13T04:42:34Z"))
    );
    assert_eq!(
        user(r#"displayName eq "Tab\tQuote\" \u00e9""#),
        cmp("displayName", Eq, s("Tab\tQuote\" é"))
    );
}

#[test]
fn and_binds_tighter_than_or() {
    let f = user(r#"title eq "a" or title eq "b" and title eq "c""#);
    let Some(Kind::Or(or)) = &f.kind else {
        panic!("expected or: {f:?}")
    };
    assert_eq!(or.operands.len(), 2);
    assert!(matches!(or.operands[1].kind, Some(Kind::And(_))));
    assert_eq!(shape(&f), "title eq ? or title eq ? and title eq ?");
    let f = user(r#"(title eq "a" Or title eq "b") AND title eq "c""#);
    assert_eq!(shape(&f), "(title eq ? or title eq ?) and title eq ?");
}

#[test]
fn chains_flatten() {
    let f = user(r#"title eq "a" and nickName eq "b" and locale eq "c""#);
    let Some(Kind::And(a)) = &f.kind else {
        panic!()
    };
    assert_eq!(a.operands.len(), 3);
}

#[test]
fn not_and_nested_parentheses() {
    let f = user(r#"not (userName eq "a") and ((title pr))"#);
    assert_eq!(shape(&f), "not (userName eq ?) and title pr");
    let f = user(r#"NOT(((title eq "a" or title eq "b")))"#);
    let Some(Kind::Not(n)) = &f.kind else {
        panic!()
    };
    assert!(matches!(
        n.operand.as_deref().and_then(|o| o.kind.as_ref()),
        Some(Kind::Or(_))
    ));
    user_err(r#"not userName eq "a""#);
}

#[test]
fn value_paths() {
    let f = user(r#"emails[type eq "work" and value co "@example.com"]"#);
    assert_eq!(shape(&f), "emails[type eq ? and value co ?]");
    let Some(Kind::ValuePath(vp)) = &f.kind else {
        panic!()
    };
    assert_eq!(vp.attribute, "emails");
    let f = user(r#"Emails[Type eq "work"].Value eq "a@b""#);
    assert_eq!(shape(&f), "emails[type eq ? and value eq ?]");
    let f = user(r#"emails[type eq "work" or type eq "home"].value pr"#);
    assert_eq!(shape(&f), "emails[(type eq ? or type eq ?) and value pr]");
    let f = user(r#"addresses[type eq "work"].postalCode eq "1234" and active eq true"#);
    assert_eq!(
        shape(&f),
        "addresses[type eq ? and postalCode eq ?] and active eq ?"
    );
    let g = parse(r#"members[value eq "u1"]"#, ResourceKind::Group).unwrap();
    assert_eq!(shape(&g), "members[value eq ?]");
}

#[test]
fn complex_multi_valued_attribute_alone_means_its_value() {
    assert_eq!(
        shape(&user(r#"emails co "example.com""#)),
        "emails.value co ?"
    );
    assert_eq!(
        shape(&user(
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#
        )),
        "userType eq ? and (emails.value co ? or emails.value co ?)"
    );
    user_err(r#"name eq "x""#);
}

#[test]
fn urn_qualified_attributes() {
    assert_eq!(
        shape(&user(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#
        )),
        "userName sw ?"
    );
    assert_eq!(
        shape(&user(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:DEPARTMENT eq "x""#
        )),
        format!("{ENTERPRISE_USER_SCHEMA}:department eq ?")
    );
    assert_eq!(
        shape(&user(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x""#
        )),
        format!("{ENTERPRISE_USER_SCHEMA}:manager.value eq ?")
    );
    assert_eq!(
        shape(&user(r#"department eq "x""#)),
        format!("{ENTERPRISE_USER_SCHEMA}:department eq ?")
    );
}

#[test]
fn canonical_names_cover_the_documented_set() {
    for (raw, canonical) in [
        ("ID", "id"),
        ("externalid", "externalId"),
        ("name.familyname", "name.familyName"),
        ("phoneNumbers.type", "phoneNumbers.type"),
        ("groups.display", "groups.display"),
        ("x509certificates.value", "x509Certificates.value"),
        ("meta.created", "meta.created"),
        ("meta.resourcetype", "meta.resourceType"),
    ] {
        assert_eq!(
            shape(&user(&format!("{raw} pr"))),
            format!("{canonical} pr")
        );
    }
    for (raw, canonical) in [
        ("displayname", "displayName"),
        ("members.type", "members.type"),
        ("meta.lastmodified", "meta.lastModified"),
    ] {
        let f = parse(&format!("{raw} pr"), ResourceKind::Group).unwrap();
        assert_eq!(shape(&f), format!("{canonical} pr"));
    }
}

#[test]
fn invalid_inputs_are_invalid_filter() {
    assert!(user_err(r#"userName eq "abc"#).contains("unterminated"));
    assert!(user_err(r#"userName eq "a" garbage"#).contains("unexpected"));
    assert!(user_err(r#"userName eq "a")"#).contains("unexpected"));
    assert!(user_err(r#"nosuch eq "a""#).contains("nosuch"));
    assert!(user_err(r#"name.nosuch eq "a""#).contains("name.nosuch"));
    assert!(user_err("externalId eq jyoung").contains("quoted"));
    user_err("");
    user_err("   ");
    user_err("userName");
    user_err("userName eq");
    user_err(r#"userName xx "a""#);
    user_err(r#"userName eq "a" and"#);
    user_err(r#"(userName eq "a""#);
    user_err(r#"emails[type eq "work""#);
    user_err(r#"emails[type eq "work"].nosuch eq "a""#);
    user_err(r#"emails[emails[type eq "a"]]"#);
    user_err(r#"userName[value eq "a"]"#);
    user_err(r#"name[givenName eq "a"]"#);
    user_err(r#"password eq "secret""#);
    user_err(r#"groups.$ref eq "x""#);
    user_err(r#"meta.location eq "x""#);
    user_err(r#"active gt true"#);
    user_err(r#"title co 5"#);
    user_err(r#"title gt null"#);
    user_err(r#"userName eq "a" or or userName eq "b""#);
    user_err(r#"userName eq 01"#);
    user_err(r#"userName eq NaN"#);
    // Users-only names are unknown on groups.
    assert!(parse(r#"userName eq "a""#, ResourceKind::Group).is_err());
}

#[test]
fn limits() {
    let deep = format!(
        "{}title pr{}",
        "(".repeat(MAX_FILTER_DEPTH),
        ")".repeat(MAX_FILTER_DEPTH)
    );
    assert!(parse(&deep, ResourceKind::User).is_ok());
    let too_deep = format!(
        "{}title pr{}",
        "(".repeat(MAX_FILTER_DEPTH + 1),
        ")".repeat(MAX_FILTER_DEPTH + 1)
    );
    assert!(user_err(&too_deep).contains("deeper"));
    let nots = format!("{}title pr{}", "not (".repeat(100), ")".repeat(100));
    user_err(&nots);

    let many = |n: usize| vec![r#"title eq "x""#; n].join(" or ");
    assert!(parse(&many(MAX_FILTER_COMPARISONS), ResourceKind::User).is_ok());
    assert!(user_err(&many(MAX_FILTER_COMPARISONS + 1)).contains("comparisons"));

    let long = format!(r#"title eq "{}""#, "a".repeat(MAX_FILTER_BYTES));
    assert!(user_err(&long).contains("longer"));
}

fn must_not_panic(input: &str) {
    for kind in [ResourceKind::User, ResourceKind::Group] {
        match parse(input, kind) {
            Ok(f) => {
                let _ = shape(&f);
            }
            Err(e) => assert_eq!(e.scim_type(), Some(ScimType::InvalidFilter), "{input:?}"),
        }
    }
}

#[test]
fn random_and_truncated_inputs_never_panic() {
    const PIECES: &[&str] = &[
        "userName",
        "emails",
        "[",
        "]",
        "(",
        ")",
        " ",
        "eq",
        "pr",
        "and",
        "or",
        "not",
        "\"",
        "\"x\"",
        "\\",
        "\\u",
        "\\ud83d",
        ".value",
        ".",
        "type",
        "true",
        "null",
        "-",
        "1e9",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:",
        "manager",
        "é",
        "\u{0}",
        "members",
        "meta.created",
        "co",
        "gt",
        "]]",
        "[[",
        ":",
        "$ref",
        "1.",
        "\"\\\"",
    ];
    // Seeded, so a failure reproduces.
    use rand::seq::IndexedRandom as _;
    use rand::{Rng as _, SeedableRng as _};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x9e37_79b9_7f4a_7c15);
    for _ in 0..4000 {
        let pieces = rng.random_range(0..=24);
        let sentence: String = (0..pieces)
            .filter_map(|_| PIECES.choose(&mut rng).copied())
            .collect();
        must_not_panic(&sentence);
    }
    let valid = [
        r#"emails[type eq "work" and value co "@x"].value eq "a\u00e9b" or not (userName pr)"#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m""#,
        r#"members[value eq "a" or value eq "b"] and meta.version ge 2"#,
    ];
    for v in valid {
        for (i, _) in v.char_indices() {
            must_not_panic(&v[..i]);
            must_not_panic(&v[i..]);
        }
    }
    let bytes: Vec<u8> = (0..=255u8).collect();
    must_not_panic(&String::from_utf8_lossy(&bytes));
}

#[test]
fn row_14_unparsable_filters_are_rejected_never_ignored() {
    for f in [
        "externalId eq jyoung",
        r#"userName eq "a" and"#,
        r#"userName eq "a" xor userName eq "b""#,
        r#"customAttr eq "a""#,
        r#"userName eq "a"; drop"#,
    ] {
        user_err(f);
    }
    // Entra's compound lookup is understood, not broadened.
    let f = user(r#"externalId eq "e1" and emails[type eq "work"].value eq "a@b""#);
    assert_eq!(
        shape(&f),
        "externalId eq ? and emails[type eq ? and value eq ?]"
    );
}

#[test]
fn row_15_user_name_lookups_keep_the_value_case() {
    // The directory compares userName case-insensitively; the filter must not alter it.
    assert_eq!(
        user(r#"USERNAME EQ "RUNSCOPEJANE@ATKO.COM""#),
        cmp("userName", pb::CompareOp::Eq, s("RUNSCOPEJANE@ATKO.COM"))
    );
}

#[test]
fn okta_and_entra_lookups() {
    assert_eq!(
        parse(r#"displayName eq "Test SCIMv2""#, ResourceKind::Group).unwrap(),
        cmp("displayName", pb::CompareOp::Eq, s("Test SCIMv2"))
    );
    assert_eq!(
        user(r#"id eq "010101001010101011001010101011""#),
        cmp("id", pb::CompareOp::Eq, s("010101001010101011001010101011"))
    );
}
