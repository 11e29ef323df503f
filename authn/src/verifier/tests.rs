//! What the verifier accepts and, above all, what it refuses.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::*;
use crate::test_support::TestIssuer;
use crate::{SigningKey, now_secs};

/// Signs `claims` with `key` under an arbitrary header, to build tokens the real
/// signer never would.
fn sign_with_header(key: &SigningKey, header: &Header, claims: &Claims) -> String {
    let der = ed25519_dalek::SigningKey::from_bytes(&key.seed())
        .to_pkcs8_der()
        .unwrap();
    jsonwebtoken::encode(header, claims, &EncodingKey::from_ed_der(der.as_bytes())).unwrap()
}

fn b64(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

async fn refused(verifier: &Verifier, token: &str) -> VerifyError {
    verifier
        .verify(token)
        .await
        .expect_err("the token must be refused")
}

#[tokio::test]
async fn a_token_of_the_issuer_verifies_and_round_trips_its_claims() {
    let issuer = TestIssuer::new();
    let claims = issuer.claims("acme", "scim:read scim:write");
    let verified = issuer
        .verifier()
        .verify(&issuer.sign(&claims))
        .await
        .unwrap();
    assert_eq!(verified, claims);
}

#[tokio::test]
async fn alg_none_is_refused_as_a_wrong_algorithm() {
    let issuer = TestIssuer::new();
    let header = serde_json::json!({"alg": "none", "typ": "at+jwt", "kid": issuer.key().kid()});
    let claims = serde_json::to_value(issuer.claims("acme", "admin")).unwrap();
    let token = format!("{}.{}.", b64(&header), b64(&claims));
    let err = refused(&issuer.verifier(), &token).await;
    assert!(matches!(err, VerifyError::WrongAlgorithm), "{err:?}");
}

#[tokio::test]
async fn an_hmac_token_keyed_with_the_public_key_is_refused() {
    let issuer = TestIssuer::new();
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(issuer.key().kid().to_owned());
    let secret = issuer.key().public().x.into_bytes();
    let key = EncodingKey::from_secret(&secret).unwrap();
    let token = jsonwebtoken::encode(&header, &issuer.claims("acme", "admin"), &key).unwrap();
    let err = refused(&issuer.verifier(), &token).await;
    assert!(matches!(err, VerifyError::WrongAlgorithm), "{err:?}");
}

#[tokio::test]
async fn a_plain_jwt_type_is_refused() {
    let issuer = TestIssuer::new();
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("JWT".into());
    header.kid = Some(issuer.key().kid().to_owned());
    let token = sign_with_header(issuer.key(), &header, &issuer.claims("acme", "scim:read"));
    let err = refused(&issuer.verifier(), &token).await;
    assert!(matches!(err, VerifyError::WrongType), "{err:?}");
}

#[tokio::test]
async fn a_tampered_payload_fails_the_signature() {
    let issuer = TestIssuer::new();
    let token = issuer.mint("acme", "scim:read");
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims = issuer.claims("acme", "scim:read");
    claims.scope = "admin".into();
    parts[1] = b64(&serde_json::to_value(&claims).unwrap());
    let err = refused(&issuer.verifier(), &parts.join(".")).await;
    assert!(matches!(err, VerifyError::BadSignature), "{err:?}");
}

#[tokio::test]
async fn a_token_expired_beyond_the_leeway_is_refused() {
    let issuer = TestIssuer::new();
    let mut claims = issuer.claims("acme", "scim:read");
    claims.iat = now_secs() - 3600;
    claims.exp = now_secs() - LEEWAY_SECS as i64 - 5;
    let err = refused(&issuer.verifier(), &issuer.sign(&claims)).await;
    assert!(matches!(err, VerifyError::Expired), "{err:?}");
}

#[tokio::test]
async fn a_token_expired_within_the_leeway_still_verifies() {
    let issuer = TestIssuer::new();
    let mut claims = issuer.claims("acme", "scim:read");
    claims.exp = now_secs() - 5;
    assert!(
        issuer
            .verifier()
            .verify(&issuer.sign(&claims))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn another_issuer_is_refused() {
    let issuer = TestIssuer::new();
    let mut claims = issuer.claims("acme", "scim:read");
    claims.iss = "https://elsewhere.invalid".into();
    let err = refused(&issuer.verifier(), &issuer.sign(&claims)).await;
    assert!(matches!(err, VerifyError::WrongIssuerOrAudience), "{err:?}");
}

#[tokio::test]
async fn another_audience_is_refused() {
    let issuer = TestIssuer::new();
    let mut claims = issuer.claims("acme", "scim:read");
    claims.aud = "another-api".into();
    let err = refused(&issuer.verifier(), &issuer.sign(&claims)).await;
    assert!(matches!(err, VerifyError::WrongIssuerOrAudience), "{err:?}");
}

#[tokio::test]
async fn a_token_signed_by_an_unknown_key_is_refused() {
    let trusted = TestIssuer::new();
    let stranger = TestIssuer::new();
    let token = stranger.mint("acme", "admin");
    let err = refused(&trusted.verifier(), &token).await;
    assert!(matches!(err, VerifyError::UnknownKey), "{err:?}");
}

#[tokio::test]
async fn a_stranger_key_presenting_a_trusted_kid_fails_the_signature() {
    let trusted = TestIssuer::new();
    let forger = SigningKey::from_seed(trusted.key().kid(), &[7u8; 32]).unwrap();
    let token = forger.sign(&trusted.claims("acme", "admin")).unwrap();
    let err = refused(&trusted.verifier(), &token).await;
    assert!(matches!(err, VerifyError::BadSignature), "{err:?}");
}

#[tokio::test]
async fn garbage_is_malformed() {
    let issuer = TestIssuer::new();
    for token in ["", "abc", "a.b.c", "....", "eyJhbGciOiJFZERTQSJ9.e30"] {
        let err = refused(&issuer.verifier(), token).await;
        assert!(matches!(err, VerifyError::Malformed), "{token:?}: {err:?}");
    }
}

#[tokio::test]
async fn a_revoked_jti_is_refused_and_other_tokens_are_not() {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier();
    let claims = issuer.claims("acme", "scim:read");
    let other = issuer.mint("acme", "scim:read");
    verifier.revocations().revoke_jti(&claims.jti, claims.exp);
    let err = refused(&verifier, &issuer.sign(&claims)).await;
    assert!(matches!(err, VerifyError::Revoked), "{err:?}");
    assert!(verifier.verify(&other).await.is_ok());
}

#[tokio::test]
async fn a_revoked_client_loses_tokens_issued_up_to_the_cut_off_only() {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier();
    let mut old = issuer.claims("acme", "scim:read");
    old.iat = now_secs() - 100;
    let mut newer = old.clone();
    newer.iat = now_secs() - 10;
    newer.jti = "newer".into();
    verifier
        .revocations()
        .revoke_client(&old.client_id, now_secs() - 50);
    let err = refused(&verifier, &issuer.sign(&old)).await;
    assert!(matches!(err, VerifyError::Revoked), "{err:?}");
    assert!(verifier.verify(&issuer.sign(&newer)).await.is_ok());
}

/// A key source whose key set a test can change.
#[derive(Default)]
struct MutableKeys(Mutex<Vec<crate::PublicJwk>>);

impl KeySource for MutableKeys {
    fn fetch(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<crate::PublicJwk>, KeySourceError>> + Send + '_>>
    {
        let keys = self.0.lock().unwrap().clone();
        Box::pin(async move { Ok(keys) })
    }
}

#[tokio::test]
async fn an_unknown_kid_triggers_a_refresh_that_finds_a_newly_added_key() {
    let first = TestIssuer::new();
    let second = TestIssuer::new();
    let source = Arc::new(MutableKeys::default());
    source.0.lock().unwrap().push(first.key().public());
    let verifier = Verifier::new(
        crate::test_support::TEST_ISSUER,
        crate::test_support::TEST_AUDIENCE,
        source.clone(),
    );
    verifier.refresh_keys().await.unwrap();
    assert!(
        verifier
            .verify(&first.mint("acme", "scim:read"))
            .await
            .is_ok()
    );

    source.0.lock().unwrap().push(second.key().public());
    let claims = verifier
        .verify(&second.mint("acme", "scim:read"))
        .await
        .unwrap();
    assert_eq!(claims.tenant, "acme");
}

#[tokio::test]
async fn an_unreachable_key_source_is_reported_as_unavailable() {
    struct Down;
    impl KeySource for Down {
        fn fetch(
            &self,
        ) -> Pin<Box<dyn Future<Output = Result<Vec<crate::PublicJwk>, KeySourceError>> + Send + '_>>
        {
            Box::pin(async { Err(KeySourceError("down".into())) })
        }
    }
    let issuer = TestIssuer::new();
    let verifier = Verifier::new(
        crate::test_support::TEST_ISSUER,
        crate::test_support::TEST_AUDIENCE,
        Arc::new(Down),
    );
    let err = refused(&verifier, &issuer.mint("acme", "scim:read")).await;
    assert!(matches!(err, VerifyError::KeysUnavailable(_)), "{err:?}");
    // Right after the failed fetch (inside the refresh interval) the token is still not
    // called invalid: nobody could tell, so callers are told to retry.
    let again = refused(&verifier, &issuer.mint("acme", "scim:read")).await;
    assert!(
        matches!(again, VerifyError::KeysUnavailable(_)),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_remembered_token_is_still_refused_once_revoked_or_expired() {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier();
    let claims = issuer.claims("acme", "scim:read");
    let token = issuer.sign(&claims);
    // First use verifies the signature and remembers the token; the second is a lookup.
    verifier.verify(&token).await.unwrap();
    verifier.verify(&token).await.unwrap();
    verifier.revocations().revoke_jti(&claims.jti, claims.exp);
    assert!(matches!(
        refused(&verifier, &token).await,
        VerifyError::Revoked
    ));

    let mut short = issuer.claims("acme", "scim:read");
    short.exp = now_secs() + 1;
    let token = issuer.sign(&short);
    verifier.verify(&token).await.unwrap();
    // Pretend the clock moved past exp + leeway by remembering an already-old copy.
    let mut old = short.clone();
    old.exp = now_secs() - LEEWAY_SECS as i64 - 5;
    verifier
        .verified
        .write()
        .unwrap()
        .insert(token.clone(), old);
    assert!(matches!(
        refused(&verifier, &token).await,
        VerifyError::Expired
    ));
    // A tampered copy of a remembered token is not a lookup hit: it fails the signature.
    let mut tampered = issuer.sign(&issuer.claims("acme", "scim:read"));
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert!(verifier.verify(&tampered).await.is_err());
}

/// A key source that is down until told otherwise, and counts its calls.
#[derive(Default)]
struct Flaky {
    up: std::sync::atomic::AtomicBool,
    keys: Mutex<Vec<crate::PublicJwk>>,
    calls: std::sync::atomic::AtomicUsize,
}

impl KeySource for Flaky {
    fn fetch(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<crate::PublicJwk>, KeySourceError>> + Send + '_>>
    {
        use std::sync::atomic::Ordering;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let answer = if self.up.load(Ordering::Relaxed) {
            Ok(self.keys.lock().unwrap().clone())
        } else {
            Err(KeySourceError("down".into()))
        };
        Box::pin(async move { answer })
    }
}

#[tokio::test]
async fn keys_fetched_ahead_verify_tokens_while_the_source_is_down() {
    use std::sync::atomic::Ordering;
    let issuer = TestIssuer::new();
    let source = Arc::new(Flaky::default());
    source.keys.lock().unwrap().push(issuer.key().public());
    let verifier = Arc::new(Verifier::new(
        crate::test_support::TEST_ISSUER,
        crate::test_support::TEST_AUDIENCE,
        source.clone(),
    ));
    let task = crate::remote::spawn_key_prefetch(&verifier, Duration::from_millis(20));
    // Retried while the source is down...
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!verifier.has_keys());
    assert!(source.calls.load(Ordering::Relaxed) >= 2, "not retried");
    // ...fetched as soon as it is up, before any token asks...
    source.up.store(true, Ordering::Relaxed);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !verifier.has_keys() {
        assert!(std::time::Instant::now() < deadline, "keys never fetched");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ...so that a token met while the source is away again still verifies.
    source.up.store(false, Ordering::Relaxed);
    let claims = verifier
        .verify(&issuer.mint("acme", "scim:read"))
        .await
        .expect("verified with the keys fetched ahead");
    assert_eq!(claims.tenant, "acme");
    // The task ends with the verifier.
    drop(verifier);
    tokio::time::timeout(Duration::from_secs(6), task)
        .await
        .expect("the prefetch task outlived its verifier")
        .unwrap();
}
