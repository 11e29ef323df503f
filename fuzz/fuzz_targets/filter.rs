//! A SCIM filter from `?filter=` or a `.search` body: the gateway's parser, then what
//! identity-service does with the tree it receives (compile, plan an index, evaluate
//! against a user and a group), and the shape written into spans.

#![no_main]

use identity_service::filter as service;
use libfuzzer_sys::fuzz_target;
use scim_gateway::scim::filter;
use scim_model::ResourceKind;
use scim_proto::identity::v1 as pb;

fn sample_user() -> pb::User {
    let doc = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ada@example.com",
        "externalId": "00u1",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
        "active": true,
    });
    scim_gateway::scim::user::user_from_json(&doc).expect("the sample user decodes")
}

fuzz_target!(|data: &[u8]| {
    // Query strings and JSON bodies both reach the parser as UTF-8 text.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let Ok(tree) = filter::parse(text, kind) else {
            continue;
        };
        let shape = scim_model::filter_shape::filter_shape(&tree);
        assert!(
            shape.len() <= scim_model::filter_shape::MAX_SHAPE_LEN + 4,
            "an unbounded filter shape"
        );
        // Whatever the gateway sends, identity-service checks again: it answers or
        // refuses, and never panics.
        let Ok(compiled) = service::compile(kind, &tree) else {
            continue;
        };
        let _ = service::plan::index_key(&compiled);
        match kind {
            ResourceKind::User => {
                let _ = compiled.matches(&sample_user());
            }
            ResourceKind::Group => {
                let _ = compiled.matches(&pb::Group {
                    display_name: "Engineering".into(),
                    ..Default::default()
                });
            }
        }
    }
});
