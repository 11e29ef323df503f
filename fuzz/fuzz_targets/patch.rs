//! A PATCH body: the PatchOp message, then its operations handled the way a request is:
//! as a group update, and as a user PATCH typed by the gateway and applied to a user by
//! identity-service's engine, whose result must still be a storable, renderable user.

#![no_main]

use libfuzzer_sys::fuzz_target;
use identity_service::patch::UserPatch;
use scim_gateway::scim::{patch, user};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(ops) = patch::parse_patch_request(&body) else {
        return;
    };
    let _ = patch::group_patch(&ops, "5f0a1c9e-group");
    let current = user::user_from_json(&serde_json::json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "userName": "ada@example.com",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "mobile"}],
        "addresses": [{"streetAddress": "1 Main St", "type": "work"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "42",
            "manager": {"value": "m-1"}
        },
        "active": true,
    }))
    .expect("the sample user decodes");
    let Ok(typed) = patch::user_operations(&ops, "5f0a1c9e-user") else {
        return;
    };
    let Ok(checked) = UserPatch::check(typed) else {
        return;
    };
    let mut patched = current.clone();
    let _ = checked.password();
    if checked.apply(&mut patched).is_ok()
        && identity_service::model::normalise_user(&mut patched).is_ok()
    {
        let _ = user::user_to_json(&patched, "https://scim.example.com/scim/v2");
    }
});
