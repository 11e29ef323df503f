//! A bearer token as every service's verifier meets it: header, key id, signature,
//! claims. The key is fixed, so the seed corpus can hold tokens it signed.

#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use scim_authn::{SigningKey, StaticKeySource, Verifier};

/// The key the seed tokens in `seeds/jwt` were signed with (see the README).
pub const SEED: [u8; 32] = [7; 32];

fn verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| {
        let key = SigningKey::from_seed("fuzz-key", &SEED).expect("key");
        Verifier::new(
            "https://issuer.fuzz",
            "scim-stack",
            Arc::new(StaticKeySource(vec![key.public()])),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    // An Authorization header's value is visible ASCII; the verifier sees it as text.
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let _ = futures::executor::block_on(verifier().verify(token));
});
