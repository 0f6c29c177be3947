//! Device grant timing under an injected clock (no sleeps): `slow_down`
//! grows the interval, codes expire after ten minutes, approval yields
//! tokens once, and a user disabled in between gets nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{PW, T0, form};
use tessera_core::Authority;
use tessera_core::client::DEVICE_CODE_GRANT;
use tessera_core::clock::ManualClock;
use tessera_core::endpoint::authorize::SignedIn;
use tessera_core::endpoint::device::DeviceLookupError;
use tessera_core::store::memory::MemoryStore;
use tessera_core::store::prelude::*;
use tessera_proto::ErrorCode;

async fn fixture() -> (Authority, Arc<ManualClock>, Arc<MemoryStore>) {
    let (a, clock, store) = common::start(common::settings(), 4).await;
    common::register(&store, common::public_client("tv", "TV", &[DEVICE_CODE_GRANT], "openid")).await;
    common::add_alice(&a, &store).await;
    (a, clock, store)
}

async fn start(a: &Authority) -> (String, String) {
    let d = a.device_authorization(None, &form("client_id=tv")).await.unwrap();
    (d.device_code, d.user_code)
}

async fn poll(a: &Authority, dc: &str) -> Result<tessera_proto::TokenResponse, ErrorCode> {
    let body = format!("grant_type={DEVICE_CODE_GRANT}&client_id=tv&device_code={dc}");
    a.token(None, &form(&body)).await.map_err(|e| e.code)
}

async fn signed_in(a: &Authority) -> SignedIn {
    a.login("alice", PW, "10.0.0.1").await.unwrap().1
}

#[tokio::test]
async fn slow_down_and_expiry() {
    let (a, clock, _) = fixture().await;
    let (dc, _) = start(&a).await;
    assert_eq!(poll(&a, &dc).await.err(), Some(ErrorCode::AuthorizationPending));
    clock.advance(4);
    assert_eq!(poll(&a, &dc).await.err(), Some(ErrorCode::SlowDown));
    clock.advance(9);
    assert_eq!(poll(&a, &dc).await.err(), Some(ErrorCode::SlowDown), "the interval is now 10 s");
    clock.advance(15);
    assert_eq!(poll(&a, &dc).await.err(), Some(ErrorCode::AuthorizationPending));
    clock.set(T0 + 600);
    assert_eq!(poll(&a, &dc).await.err(), Some(ErrorCode::ExpiredToken));
}

#[tokio::test]
async fn approval_yields_tokens_once_and_expired_codes_cannot_be_approved() {
    let (a, clock, store) = fixture().await;
    let who = signed_in(&a).await;
    let (dc, uc) = start(&a).await;
    assert_eq!(a.device_decide(&uc.to_lowercase(), &who, true, &[]).await, Ok(()));
    let t = poll(&a, &dc).await.unwrap();
    assert!(t.id_token.is_some());
    clock.advance(10);
    assert_eq!(poll(&a, &dc).await.err(), Some(ErrorCode::InvalidGrant));

    let (_, late) = start(&a).await;
    clock.advance(600);
    assert_eq!(a.device_decide(&late, &who, true, &[]).await, Err(DeviceLookupError::Invalid));

    let (dc, uc) = start(&a).await;
    assert_eq!(a.device_decide(&uc, &who, true, &[]).await, Ok(()));
    let user = store.find_user("alice").await.unwrap().unwrap();
    a.set_user_disabled(&user, true).await.unwrap();
    assert_eq!(poll(&a, &dc).await.err(), Some(ErrorCode::InvalidGrant), "disabled in between");
}

/// Deciding a code that is not pending counts as a wrong code: guessing
/// codes through the decision form is throttled like the lookup.
#[tokio::test]
async fn decisions_on_codes_that_are_not_pending_are_throttled() {
    let (a, _clock, _) = fixture().await;
    let who = signed_in(&a).await;
    let keys = ["device-user:u".to_string(), "device-ip:10.0.0.9".to_string()];
    for _ in 0..tessera_core::throttle::FREE_FAILURES {
        assert_eq!(a.device_decide("BCDF-GHJK", &who, false, &keys).await, Err(DeviceLookupError::Invalid));
    }
    let (_, uc) = start(&a).await;
    assert!(
        matches!(a.device_decide(&uc, &who, true, &keys).await, Err(DeviceLookupError::Throttled(_))),
        "even a real code waits once the guesses used the budget"
    );
    assert!(matches!(a.device_lookup(&uc, &keys).await, Err(DeviceLookupError::Throttled(_))));
}

/// RFC 9449 §5 for the device grant: a poll with a proof gets a bound token.
#[tokio::test]
async fn a_poll_with_a_dpop_proof_gets_a_bound_access_token() {
    use tessera_pop::dpop::{DpopAlg, ProofKey, make_proof};
    let (a, _clock, _) = fixture().await;
    let who = signed_in(&a).await;
    let (dc, uc) = start(&a).await;
    assert_eq!(a.device_decide(&uc, &who, true, &[]).await, Ok(()));
    let key = ProofKey::generate(DpopAlg::EdDSA).unwrap();
    let nonce = a.dpop_nonce();
    let proof = make_proof(&key, "POST", "https://as.example/oauth2/token", None, Some(&nonce), T0, "d1").unwrap();
    let body = form(&format!("grant_type={DEVICE_CODE_GRANT}&client_id=tv&device_code={dc}"));
    let call = a.client_call(None, &body).await;
    let t = a.token_with_dpop(&call, &body, &[proof.as_str()]).await.unwrap();
    assert_eq!(t.token_type, "DPoP");
    let payload = t.access_token.split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&<base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(payload).unwrap())
            .unwrap();
    assert_eq!(claims["cnf"]["jkt"], key.jkt());
}
