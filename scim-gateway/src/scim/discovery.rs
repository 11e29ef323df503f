//! Discovery documents (RFC 7644 §4, RFC 7643 §5–§7): `/ServiceProviderConfig`,
//! `/Schemas` and `/ResourceTypes`, generated from the attribute catalogue so they
//! always describe what the gateway actually accepts.

use serde_json::{Map, Value, json};

use scim_model::limits::{MAX_BULK_OPERATIONS, MAX_BULK_PAYLOAD_BYTES};

use scim_model::{
    AttrDef, AttrType, ENTERPRISE_USER, ENTERPRISE_USER_SCHEMA, GROUP, RESOURCE_TYPE_SCHEMA,
    ResourceKind, SCHEMA_SCHEMA, SERVICE_PROVIDER_CONFIG_SCHEMA, SchemaDef, USER,
};

fn base(base_url: &str) -> &str {
    base_url.trim_end_matches('/')
}

/// The service provider configuration. `max_results` is the largest page the server
/// returns (the cap applied to `count`), `default_page` the page a list without a
/// `count` gets.
pub fn service_provider_config(base_url: &str, max_results: i64, default_page: i64) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "documentationUri": "https://www.rfc-editor.org/rfc/rfc7644",
        "patch": {"supported": true},
        "bulk": {
            "supported": true,
            "maxOperations": MAX_BULK_OPERATIONS,
            "maxPayloadSize": MAX_BULK_PAYLOAD_BYTES,
        },
        "filter": {"supported": true, "maxResults": max_results},
        "changePassword": {"supported": true},
        "sort": {"supported": true},
        "etag": {"supported": true},
        // RFC 9865 §5. Cursors hold no server state and never expire, so there is no
        // `cursorTimeout` to state.
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": default_page,
            "maxPageSize": max_results,
        },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with an OAuth 2.0 bearer token (RFC 6750) \
                            issued by this server's token endpoint.",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", base(base_url)),
        }
    })
}

/// Every schema: core User, enterprise User, Group.
pub fn schemas(base_url: &str) -> Vec<Value> {
    [&USER, &ENTERPRISE_USER, &GROUP]
        .into_iter()
        .map(|s| schema_json(s, base_url))
        .collect()
}

/// One schema by URN, compared case-insensitively.
pub fn schema(base_url: &str, id: &str) -> Option<Value> {
    [&USER, &ENTERPRISE_USER, &GROUP]
        .into_iter()
        .find(|s| s.id.eq_ignore_ascii_case(id))
        .map(|s| schema_json(s, base_url))
}

/// Every resource type: User (with the optional enterprise extension) and Group.
pub fn resource_types(base_url: &str) -> Vec<Value> {
    [ResourceKind::User, ResourceKind::Group]
        .into_iter()
        .map(|k| resource_type_json(k, base_url))
        .collect()
}

/// One resource type by name (`User`, `Group`), compared case-insensitively.
pub fn resource_type(base_url: &str, name: &str) -> Option<Value> {
    [ResourceKind::User, ResourceKind::Group]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(name))
        .map(|k| resource_type_json(k, base_url))
}

fn resource_type_json(kind: ResourceKind, base_url: &str) -> Value {
    let mut o = json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": kind.as_str(),
        "name": kind.as_str(),
        "endpoint": kind.endpoint(),
        "description": match kind {
            ResourceKind::User => "User Account",
            ResourceKind::Group => "Group",
        },
        "schema": kind.core_schema().id,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/{}", base(base_url), kind.as_str()),
        }
    });
    if kind == ResourceKind::User {
        o["schemaExtensions"] = json!([{"schema": ENTERPRISE_USER_SCHEMA, "required": false}]);
    }
    o
}

fn schema_json(s: &SchemaDef, base_url: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "attributes": s.attributes.iter().map(attr_json).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{}", base(base_url), s.id),
        }
    })
}

fn attr_json(a: &AttrDef) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), a.name.into());
    o.insert("type".into(), a.kind.as_str().into());
    o.insert("multiValued".into(), a.multi_valued.into());
    o.insert("description".into(), a.description.into());
    o.insert("required".into(), a.required.into());
    o.insert("caseExact".into(), a.case_exact.into());
    if !a.canonical_values.is_empty() {
        o.insert("canonicalValues".into(), json!(a.canonical_values));
    }
    if a.kind == AttrType::Reference {
        o.insert("referenceTypes".into(), json!(a.reference_types));
    }
    o.insert("mutability".into(), a.mutability.as_str().into());
    o.insert("returned".into(), a.returned.as_str().into());
    o.insert("uniqueness".into(), a.uniqueness.as_str().into());
    if a.kind == AttrType::Complex {
        let subs: Vec<Value> = a.sub_attributes.iter().map(attr_json).collect();
        o.insert("subAttributes".into(), Value::Array(subs));
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim_model::{GROUP_SCHEMA, USER_SCHEMA};

    const BASE: &str = "https://h/scim/v2";

    fn attr<'a>(schema: &'a Value, name: &str) -> &'a Value {
        schema["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("no attribute {name}"))
    }

    fn sub<'a>(a: &'a Value, name: &str) -> &'a Value {
        a["subAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("no sub-attribute {name}"))
    }

    #[test]
    fn service_provider_config_states_the_features() {
        let c = service_provider_config(BASE, 500, 100);
        assert_eq!(c["pagination"]["cursor"], true);
        assert_eq!(c["pagination"]["index"], true);
        assert_eq!(c["pagination"]["maxPageSize"], 500);
        assert_eq!(c["pagination"]["defaultPageSize"], 100);
        assert_eq!(c["schemas"][0], SERVICE_PROVIDER_CONFIG_SCHEMA);
        assert_eq!(c["patch"]["supported"], true);
        assert_eq!(c["filter"], json!({"supported": true, "maxResults": 500}));
        assert_eq!(c["bulk"]["supported"], true);
        assert_eq!(c["bulk"]["maxOperations"], MAX_BULK_OPERATIONS);
        assert_eq!(c["sort"]["supported"], true);
        assert_eq!(c["etag"]["supported"], true);
        assert_eq!(c["changePassword"]["supported"], true);
        assert_eq!(c["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert_eq!(c["authenticationSchemes"][0]["primary"], true);
        assert_eq!(
            c["meta"]["location"],
            "https://h/scim/v2/ServiceProviderConfig"
        );
    }

    #[test]
    fn user_schema_characteristics() {
        let u = schema(BASE, "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER").unwrap();
        assert_eq!(u["id"], USER_SCHEMA);
        assert_eq!(u["schemas"][0], SCHEMA_SCHEMA);
        assert_eq!(
            u["meta"]["location"],
            format!("https://h/scim/v2/Schemas/{USER_SCHEMA}")
        );
        let user_name = attr(&u, "userName");
        assert_eq!(user_name["caseExact"], false);
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["required"], true);
        assert_eq!(user_name["type"], "string");
        let id = attr(&u, "id");
        assert_eq!(id["caseExact"], true);
        assert_eq!(id["returned"], "always");
        assert_eq!(id["mutability"], "readOnly");
        let pw = attr(&u, "password");
        assert_eq!(pw["returned"], "never");
        assert_eq!(pw["mutability"], "writeOnly");
        let groups = attr(&u, "groups");
        assert_eq!(groups["mutability"], "readOnly");
        assert_eq!(groups["multiValued"], true);
        assert_eq!(
            sub(groups, "$ref")["referenceTypes"],
            json!(["User", "Group"])
        );
        let emails = attr(&u, "emails");
        assert_eq!(emails["type"], "complex");
        assert_eq!(
            sub(emails, "type")["canonicalValues"],
            json!(["work", "home", "other"])
        );
        assert_eq!(sub(emails, "primary")["type"], "boolean");
        assert_eq!(attr(&u, "active")["type"], "boolean");
        assert_eq!(
            attr(&u, "profileUrl")["referenceTypes"],
            json!(["external"])
        );
        assert_eq!(sub(attr(&u, "meta"), "created")["type"], "dateTime");
        assert_eq!(sub(attr(&u, "x509Certificates"), "value")["type"], "binary");
        assert!(attr(&u, "emails").get("referenceTypes").is_none());
    }

    #[test]
    fn enterprise_and_group_schemas() {
        let e = schema(BASE, ENTERPRISE_USER_SCHEMA).unwrap();
        let manager = attr(&e, "manager");
        assert_eq!(sub(manager, "value")["type"], "string");
        assert_eq!(sub(manager, "$ref")["referenceTypes"], json!(["User"]));
        assert_eq!(sub(manager, "displayName")["mutability"], "readOnly");
        attr(&e, "employeeNumber");
        let g = schema(BASE, GROUP_SCHEMA).unwrap();
        let members = attr(&g, "members");
        assert_eq!(members["multiValued"], true);
        assert_eq!(sub(members, "display")["type"], "string");
        assert_eq!(sub(members, "value")["mutability"], "immutable");
        assert_eq!(
            sub(members, "type")["canonicalValues"],
            json!(["User", "Group"])
        );
        assert_eq!(attr(&g, "displayName")["required"], true);
        assert!(schema(BASE, "urn:nope").is_none());
        assert_eq!(schemas(BASE).len(), 3);
    }

    #[test]
    fn row_20_group_schema_knows_writable_members_with_display() {
        let g = schema(BASE, GROUP_SCHEMA).unwrap();
        let members = attr(&g, "members");
        assert_eq!(members["mutability"], "readWrite");
        assert_eq!(sub(members, "display")["mutability"], "readWrite");
    }

    #[test]
    fn resource_types_name_their_schemas() {
        let all = resource_types("https://h/scim/v2/");
        assert_eq!(all.len(), 2);
        let u = resource_type(BASE, "user").unwrap();
        assert_eq!(u["endpoint"], "/Users");
        assert_eq!(u["schema"], USER_SCHEMA);
        assert_eq!(
            u["schemaExtensions"],
            json!([{"schema": ENTERPRISE_USER_SCHEMA, "required": false}])
        );
        assert_eq!(
            u["meta"]["location"],
            "https://h/scim/v2/ResourceTypes/User"
        );
        let g = resource_type(BASE, "Group").unwrap();
        assert_eq!(g["schema"], GROUP_SCHEMA);
        assert!(g.get("schemaExtensions").is_none());
        assert!(resource_type(BASE, "Robots").is_none());
    }
}
