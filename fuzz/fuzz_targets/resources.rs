//! A POST or PUT body: SCIM user and group JSON decoded to what identity-service is
//! sent. Whatever decodes must also encode, and our own encoding must decode again.

#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_gateway::scim::{group, user};

const BASE: &str = "https://scim.example.com/scim/v2";

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(u) = user::user_from_json(&body) {
        let again = user::user_to_json(&u, BASE);
        user::user_from_json(&again).expect("a user we wrote decodes again");
    }
    if let Ok(g) = group::group_from_json(&body) {
        let again = group::group_to_json(&g, BASE, true);
        group::group_from_json(&again).expect("a group we wrote decodes again");
    }
});
