//! DPoP-bound tokens at the resource (RFC 9449 §7): accepted only with a
//! proof from the bound key for this method and path, once; refused as
//! bearer tokens; nonces when configured; the §7.1 challenges.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::routing::get;
use common::{AUD, Issuer, now};
use serde_json::json;
use tessera_guard::{Authenticated, DpopPolicy, Guard, Invalid, Rejection, Schemes};
use tessera_pop::dpop::{DpopAlg, ProofKey, make_proof};
use tower::ServiceExt;

static JTI: AtomicU64 = AtomicU64::new(0);

fn jti() -> String {
    format!("jti-{}-{}", now(), JTI.fetch_add(1, Ordering::Relaxed))
}

fn proof(key: &ProofKey, method: &str, path: &str, token: Option<&str>, nonce: Option<&str>) -> String {
    make_proof(key, method, &format!("{AUD}{path}"), token, nonce, now(), &jti()).unwrap()
}

/// A token bound to `key` (`cnf.jkt`).
fn bound_token(issuer: &Issuer, key: &ProofKey) -> String {
    let mut claims = issuer.claims();
    claims["cnf"] = json!({ "jkt": key.jkt() });
    issuer.sign_ed(&issuer.header(), &claims)
}

async fn setup(policy: DpopPolicy) -> (Issuer, Guard, ProofKey) {
    let issuer = Issuer::start().await;
    let guard = issuer.guard().await.dpop(policy).build().await.unwrap();
    (issuer, guard, ProofKey::generate(DpopAlg::ES256).unwrap())
}

async fn check(
    guard: &Guard,
    method: &str,
    path: &str,
    auth: &str,
    proofs: &[&str],
) -> Result<Authenticated, Rejection> {
    let proofs: Vec<&[u8]> = proofs.iter().map(|p| p.as_bytes()).collect();
    guard.check_request(method, path, Some(auth.as_bytes()), &proofs).await
}

fn dpop_refused(r: Result<Authenticated, Rejection>) -> &'static str {
    match r {
        Err(Rejection::Dpop { code, .. }) => code,
        other => panic!("expected a refused proof, got {other:?}"),
    }
}

#[tokio::test]
async fn bound_token_with_its_proof_is_accepted_and_the_proof_is_checked_every_time() {
    let (issuer, guard, key) = setup(DpopPolicy::default()).await;
    let token = bound_token(&issuer, &key);
    let auth = format!("DPoP {token}");
    let p = proof(&key, "GET", "/items?x=1", Some(&token), None);
    let a = check(&guard, "GET", "/items?x=1", &auth, &[&p]).await.unwrap();
    assert_eq!(a.subject(), "alice");
    // Second request: the token comes from the verified cache, the proof does not.
    let again = check(&guard, "GET", "/items", &auth, &[&p]).await;
    assert_eq!(dpop_refused(again), "invalid_dpop_proof", "replayed proof");
    assert_eq!(dpop_refused(check(&guard, "GET", "/items", &auth, &[]).await), "invalid_dpop_proof", "no proof");
    let fresh = proof(&key, "GET", "/items", Some(&token), None);
    assert!(check(&guard, "GET", "/items", &auth, &[&fresh]).await.is_ok());
}

#[tokio::test]
async fn a_thiefs_proof_or_a_proof_for_another_request_is_refused() {
    let (issuer, guard, key) = setup(DpopPolicy::default()).await;
    let token = bound_token(&issuer, &key);
    let auth = format!("DPoP {token}");
    let thief = ProofKey::generate(DpopAlg::ES256).unwrap();
    let stolen = proof(&thief, "GET", "/items", Some(&token), None);
    assert_eq!(dpop_refused(check(&guard, "GET", "/items", &auth, &[&stolen]).await), "invalid_dpop_proof");
    let other_path = proof(&key, "GET", "/admin", Some(&token), None);
    assert_eq!(dpop_refused(check(&guard, "GET", "/items", &auth, &[&other_path]).await), "invalid_dpop_proof");
    let other_method = proof(&key, "POST", "/items", Some(&token), None);
    assert_eq!(dpop_refused(check(&guard, "GET", "/items", &auth, &[&other_method]).await), "invalid_dpop_proof");
    let no_ath = proof(&key, "GET", "/items", None, None);
    assert_eq!(dpop_refused(check(&guard, "GET", "/items", &auth, &[&no_ath]).await), "invalid_dpop_proof");
    let other_host = make_proof(&key, "GET", "https://evil.example/items", Some(&token), None, now(), &jti()).unwrap();
    assert_eq!(dpop_refused(check(&guard, "GET", "/items", &auth, &[&other_host]).await), "invalid_dpop_proof");
}

#[tokio::test]
async fn schemes_and_binding_must_agree() {
    let (issuer, guard, key) = setup(DpopPolicy::default()).await;
    let bound = bound_token(&issuer, &key);
    let p = proof(&key, "GET", "/items", Some(&bound), None);
    // A bound token as a bearer token, even with a good proof.
    let r = check(&guard, "GET", "/items", &format!("Bearer {bound}"), &[&p]).await;
    assert_eq!(r.unwrap_err(), Rejection::Invalid(Invalid::SenderConstrained));
    // An unbound token with the DPoP scheme.
    let plain = issuer.token();
    let p = proof(&key, "GET", "/items", Some(&plain), None);
    let r = check(&guard, "GET", "/items", &format!("DPoP {plain}"), &[&p]).await;
    assert_eq!(r.unwrap_err(), Rejection::Invalid(Invalid::NotBound));
    // Bearer tokens as before.
    assert!(check(&guard, "GET", "/items", &format!("Bearer {plain}"), &[]).await.is_ok());
}

#[tokio::test]
async fn a_dpop_only_guard_ignores_bearer_and_a_bearer_only_guard_ignores_dpop() {
    let (issuer, guard, key) = setup(DpopPolicy { schemes: Schemes::DpopOnly, ..DpopPolicy::default() }).await;
    let plain = issuer.token();
    assert_eq!(check(&guard, "GET", "/", &format!("Bearer {plain}"), &[]).await.unwrap_err(), Rejection::Missing);
    let bearer_only =
        issuer.guard().await.dpop(DpopPolicy { schemes: Schemes::BearerOnly, ..DpopPolicy::default() }).build().await;
    let bearer_only = bearer_only.unwrap();
    let bound = bound_token(&issuer, &key);
    let p = proof(&key, "GET", "/", Some(&bound), None);
    assert_eq!(check(&bearer_only, "GET", "/", &format!("DPoP {bound}"), &[&p]).await.unwrap_err(), Rejection::Missing);
}

fn api(guard: &Guard) -> Router {
    Router::new()
        .route("/items", get(|who: Authenticated| async move { who.subject().to_string() }))
        .layer(guard.layer())
}

async fn call(app: &Router, auth: &str, proof: Option<&str>) -> (StatusCode, HeaderMap) {
    let mut req = Request::get("/items").header(header::AUTHORIZATION, auth);
    if let Some(p) = proof {
        req = req.header("dpop", p);
    }
    let resp = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    (resp.status(), resp.headers().clone())
}

fn challenges(h: &HeaderMap) -> Vec<String> {
    h.get_all(header::WWW_AUTHENTICATE).iter().map(|v| v.to_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn the_layer_checks_proofs_and_answers_with_dpop_challenges() {
    let (issuer, guard, key) = setup(DpopPolicy::default()).await;
    let app = api(&guard);
    let bound = bound_token(&issuer, &key);
    let p = proof(&key, "GET", "/items", Some(&bound), None);
    let (status, _) = call(&app, &format!("DPoP {bound}"), Some(&p)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, h) = call(&app, &format!("DPoP {bound}"), Some(&p)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "replayed");
    let c = challenges(&h);
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0].starts_with(r#"DPoP algs="EdDSA ES256 ES384 PS256 RS256""#), "{c:?}");
    assert!(c[0].contains(r#"error="invalid_dpop_proof""#), "{c:?}");
    // A bound token as bearer: both challenges, the DPoP one included.
    let (status, h) = call(&app, &format!("Bearer {bound}"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let c = challenges(&h);
    assert_eq!(c.len(), 2, "{c:?}");
    assert!(c[0].starts_with("Bearer ") && c[0].contains(r#"error="invalid_token""#), "{c:?}");
    assert!(c[1].starts_with("DPoP algs=") && c[1].contains(r#"error="invalid_token""#), "{c:?}");
    // Bearer tokens unchanged.
    let (status, _) = call(&app, &format!("Bearer {}", issuer.token()), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn nonces_when_required_are_asked_for_and_then_accepted() {
    let (issuer, _, key) = setup(DpopPolicy::default()).await;
    let guard = issuer.guard().await.dpop_nonce_key([7; 32]).build().await.unwrap();
    let app = api(&guard);
    let bound = bound_token(&issuer, &key);
    let p = proof(&key, "GET", "/items", Some(&bound), None);
    let (status, h) = call(&app, &format!("DPoP {bound}"), Some(&p)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenges(&h).iter().any(|c| c.starts_with("DPoP ") && c.contains(r#"error="use_dpop_nonce""#)), "{h:?}");
    let nonce = h.get("dpop-nonce").expect("a DPoP-Nonce header").to_str().unwrap().to_string();
    let p = proof(&key, "GET", "/items", Some(&bound), Some(&nonce));
    let (status, _) = call(&app, &format!("DPoP {bound}"), Some(&p)).await;
    assert_eq!(status, StatusCode::OK);
    let forged = proof(&key, "GET", "/items", Some(&bound), Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    let (status, h) = call(&app, &format!("DPoP {bound}"), Some(&forged)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(h.get("dpop-nonce").is_some());
}
