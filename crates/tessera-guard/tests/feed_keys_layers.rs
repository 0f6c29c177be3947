//! The guard against a scripted issuer: revocations through the feed,
//! staleness, key rotation, opaque tokens, tokens minted by panva/jose, and
//! the HTTP answers of the layers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use common::{AUD, Issuer, now};
use serde_json::json;
use tessera_guard::{Authenticated, Guard, Invalid, OnStale, Rejection, require_scopes};
use tessera_proto::{Audience, IntrospectionResponse, RevokedKind};
use tower::ServiceExt;

/// Polls until `f` holds or 3 s pass; returns how long it took.
async fn within<F: AsyncFnMut() -> bool>(mut f: F) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        if f().await {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not met within 3 s");
}

#[tokio::test]
async fn revocations_reach_the_guard_through_the_feed() {
    let issuer = Issuer::start().await;
    // Revoked before the guard starts: known before its first request.
    let early = issuer.claims();
    issuer.revoke(RevokedKind::Jti, early["jti"].as_str().unwrap(), now());
    let guard = issuer.guard().await.build().await.unwrap();
    let early = issuer.sign_ed(&issuer.header(), &early);
    assert_eq!(guard.validate(&early).await.unwrap_err(), Rejection::Invalid(Invalid::Revoked));

    // Accepted (and cached), then revoked by jti: refused from the cache too.
    let claims = issuer.claims();
    let token = issuer.sign_ed(&issuer.header(), &claims);
    guard.validate(&token).await.unwrap();
    issuer.revoke(RevokedKind::Jti, claims["jti"].as_str().unwrap(), now());
    let took = within(async || guard.validate(&token).await.is_err()).await;
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(guard.validate(&token).await.unwrap_err(), Rejection::Invalid(Invalid::Revoked));

    // A grant: every token carrying it.
    let mut c = issuer.claims();
    c["grant_id"] = json!("g-42");
    let in_grant = issuer.sign_ed(&issuer.header(), &c);
    guard.validate(&in_grant).await.unwrap();
    issuer.revoke(RevokedKind::Grant, "g-42", now());
    within(async || guard.validate(&in_grant).await.is_err()).await;

    // A deleted client: tokens issued before, not a later client's with the same id.
    let old = issuer.token();
    guard.validate(&old).await.unwrap();
    issuer.revoke(RevokedKind::Client, "app", now());
    within(async || guard.validate(&old).await.is_err()).await;
    let mut later = issuer.claims();
    later["iat"] = json!(now() + 2);
    guard.validate(&issuer.sign_ed(&issuer.header(), &later)).await.unwrap();
    assert!(guard.feed_position() >= 4);
}

/// A compromised signing key: its tokens, cached or not, are refused within
/// a second of the feed's `key` entry, even though the (stale) JWKS still
/// lists the key; the other key's tokens are untouched.
#[tokio::test]
async fn a_key_entry_drops_cached_tokens_and_refuses_the_kid() {
    let issuer = Issuer::start().await;
    let guard = issuer.guard().await.build().await.unwrap();
    let cached = issuer.token();
    guard.validate(&cached).await.unwrap();
    let es_header = json!({"alg": "ES256", "typ": "at+jwt", "kid": issuer.es_kid});
    let other = issuer.sign_es(&es_header, &issuer.claims());
    guard.validate(&other).await.unwrap();

    issuer.revoke(RevokedKind::Key, &issuer.ed_kid, now());
    let took = within(async || guard.validate(&cached).await.is_err()).await;
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(guard.validate(&cached).await.unwrap_err(), Rejection::Invalid(Invalid::Revoked));
    // Signed after the revocation by whoever holds the key: refused without
    // a JWKS fetch, although the JWKS still publishes the key.
    let fetches = issuer.jwks_fetches();
    let minted = issuer.token();
    assert_eq!(guard.validate(&minted).await.unwrap_err(), Rejection::Invalid(Invalid::Revoked));
    assert_eq!(issuer.jwks_fetches(), fetches);
    guard.validate(&other).await.unwrap();
    guard.validate(&issuer.sign_es(&es_header, &issuer.claims())).await.unwrap();
}

#[tokio::test]
async fn a_silent_feed_fails_closed_or_falls_back_to_introspection() {
    let issuer = Issuer::start().await;
    let closed = issuer.guard().await.build().await.unwrap();
    let fallback = issuer.guard().await.on_stale(OnStale::Introspect).build().await.unwrap();
    // Long-polls as long as a real deployment's: recovery must not wait for one.
    let long_poll = issuer
        .guard()
        .await
        .feed_wait(Duration::from_secs(25))
        .max_staleness(Duration::from_secs(30))
        .build()
        .await
        .unwrap();
    let token = issuer.token();
    closed.validate(&token).await.unwrap();
    fallback.validate(&token).await.unwrap();
    long_poll.validate(&token).await.unwrap();
    issuer.set_feed_down(true);
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert!(matches!(closed.validate(&token).await, Err(Rejection::Unavailable(_))));
    // The fallback asks the issuer: inactive (the stub knows nothing) → refused,
    // then active → accepted.
    assert_eq!(fallback.validate(&token).await.unwrap_err(), Rejection::Invalid(Invalid::Inactive));
    let other = issuer.token();
    issuer.state.lock().unwrap().introspection.insert(
        other.clone(),
        IntrospectionResponse {
            active: true,
            client_id: Some("app".into()),
            exp: Some(now() + 300),
            aud: Some(Audience::One(AUD.into())),
            iss: Some(issuer.url.clone()),
            ..Default::default()
        },
    );
    fallback.validate(&other).await.unwrap();
    // The feed comes back: the guard recovers by itself.
    assert!(long_poll.feed_silence() >= Duration::from_secs(3));
    issuer.set_feed_down(false);
    let back = Instant::now();
    within(async || closed.validate(&token).await.is_ok()).await;
    // Fresh again one retry backoff (≤ 5 s) after the issuer is back, not
    // after a whole 25 s long-poll.
    while long_poll.feed_silence() > back.elapsed() {
        assert!(back.elapsed() < Duration::from_secs(6), "long-polling guard still stale after {:?}", back.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    long_poll.validate(&token).await.unwrap();
}

#[tokio::test]
async fn key_rotation_needs_one_fetch_and_fails_no_request() {
    let issuer = Issuer::start().await;
    let guard = issuer.guard().await.build().await.unwrap();
    let fetches = issuer.jwks_fetches();
    // The issuer adds a key and signs with it at once (the worst case: no
    // pre-publication); 64 concurrent requests carry the new kid.
    let next = Issuer::start().await;
    let mut jwk = next.ed_jwk();
    jwk["kid"] = json!("ed-2");
    issuer.publish(&[issuer.ed_jwk(), jwk]);
    let h = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "ed-2"});
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (g, t) = (guard.clone(), next.sign_ed(&h, &issuer.claims()));
        tasks.push(tokio::spawn(async move { g.validate(&t).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(issuer.jwks_fetches() - fetches, 1, "one fetch for the new key");
    assert_eq!(guard.key_count(), 2, "ed-1 and ed-2 (es-1 was withdrawn)");
}

#[tokio::test]
async fn opaque_tokens_go_through_cached_introspection() {
    let issuer = Issuer::start().await;
    let guard = issuer.guard().await.build().await.unwrap();
    let token = "tsr_at_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
    let active = IntrospectionResponse {
        active: true,
        client_id: Some("app".into()),
        sub: Some("svc".into()),
        scope: Some("inventory:read".into()),
        exp: Some(now() + 300),
        aud: Some(Audience::Many(vec![AUD.into()])),
        iss: Some(issuer.url.clone()),
        ..Default::default()
    };
    issuer.state.lock().unwrap().introspection.insert(token.into(), active.clone());
    for _ in 0..5 {
        let a = guard.validate(token).await.unwrap();
        assert_eq!((a.subject(), a.kind()), ("svc", tessera_guard::TokenKind::Opaque));
    }
    assert_eq!(issuer.state.lock().unwrap().introspections, 1, "cached");
    // The feed names the token by SHA-256: dropped at once.
    let digest = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()));
    issuer.revoke(RevokedKind::TokenSha256, &digest, now());
    within(async || guard.validate(token).await.is_err()).await;
    // Another API's token, or an unknown one, is refused.
    let other = "tsr_at_other_api_token_000000000000000000000000";
    let mut theirs = active;
    theirs.aud = Some(Audience::One("https://billing.example".into()));
    issuer.state.lock().unwrap().introspection.insert(other.into(), theirs);
    assert_eq!(guard.validate(other).await.unwrap_err(), Rejection::Invalid(Invalid::WrongAudience));
    assert_eq!(guard.validate("tsr_at_unknown").await.unwrap_err(), Rejection::Invalid(Invalid::Inactive));
}

/// Runs `tests/jose/mint.mjs` (panva/jose); installs it on first use.
fn mint_with_jose(private_jwk: &serde_json::Value, claims: &serde_json::Value) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/jose");
    if !dir.join("node_modules/jose").is_dir() {
        let ok = Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir).status().unwrap();
        assert!(ok.success(), "`npm ci` in tests/jose failed");
    }
    let out = Command::new("node")
        .arg("mint.mjs")
        .arg(private_jwk.to_string())
        .arg(claims.to_string())
        .current_dir(&dir)
        .output()
        .expect("node is needed for the jose interoperability test");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn tokens_minted_by_panva_jose() {
    let issuer = Issuer::start().await;
    let guard = issuer.guard().await.build().await.unwrap();
    let token = mint_with_jose(&issuer.ed_private_jwk(), &issuer.claims());
    let a = guard.validate(&token).await.unwrap();
    assert_eq!(a.subject(), "alice");
    // Same kid, another key: refused.
    let stranger = Issuer::start().await;
    let mut jwk = stranger.ed_private_jwk();
    jwk["kid"] = json!(issuer.ed_kid);
    let forged = mint_with_jose(&jwk, &issuer.claims());
    assert_eq!(guard.validate(&forged).await.unwrap_err(), Rejection::Invalid(Invalid::BadSignature));
}

fn api(guard: &Guard) -> Router {
    Router::new()
        .route(
            "/items",
            get(|who: Authenticated| async move { format!("items for {}", who.subject()) })
                .route_layer(require_scopes(["inventory:read"])),
        )
        .route("/admin", get(|| async { "admin" }).route_layer(require_scopes(["inventory:read", "inventory:admin"])))
        .layer(guard.layer())
        .merge(guard.metadata_router())
}

async fn call(app: &Router, uri: &str, auth: Option<&str>) -> (StatusCode, String, String) {
    let mut req = Request::get(uri);
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    let resp = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    let challenge =
        resp.headers().get(header::WWW_AUTHENTICATE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, challenge, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn layers_answer_with_rfc_6750_challenges() {
    let issuer = Issuer::start().await;
    let guard = issuer.guard().await.scopes_supported(["inventory:read"]).build().await.unwrap();
    let app = api(&guard);
    let token = issuer.token();
    let bearer = format!("Bearer {token}");
    let meta = "resource_metadata=\"https://inventory.example/.well-known/oauth-protected-resource\"";

    let (s, _, body) = call(&app, "/items", Some(&bearer)).await;
    assert_eq!((s, body.as_str()), (StatusCode::OK, "items for alice"));

    let (s, ch, _) = call(&app, "/items", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(ch.starts_with("Bearer realm=") && !ch.contains("error=") && ch.contains(meta), "{ch}");

    let (s, ch, body) = call(&app, "/items", Some("Bearer not-a-token")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(ch.contains("error=\"invalid_token\"") && ch.contains(meta), "{ch}");
    assert!(body.contains("\"invalid_token\""), "{body}");

    let (s, ch, _) = call(&app, "/admin", Some(&bearer)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        ch.contains("error=\"insufficient_scope\"") && ch.contains("scope=\"inventory:read inventory:admin\""),
        "{ch}"
    );

    // Tokens in the query string are refused even alongside a good header.
    let (s, ch, _) = call(&app, &format!("/items?access_token={token}"), Some(&bearer)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(ch.contains("error=\"invalid_request\""), "{ch}");
    let (s, _, _) = call(&app, &format!("/items?access_token={token}"), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (s, _, _) = call(&app, "/items", Some(&format!("Bearer {token} extra"))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = call(&app, "/items", Some("Basic YXBwOnNlY3JldA==")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // RFC 9728 metadata, unauthenticated.
    let (s, _, body) = call(&app, "/.well-known/oauth-protected-resource", None).await;
    assert_eq!(s, StatusCode::OK);
    let m: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(m["resource"], AUD);
    assert_eq!(m["authorization_servers"], json!([issuer.url]));
    assert_eq!(m["bearer_methods_supported"], json!(["header"]));
    assert_eq!(m["scopes_supported"], json!(["inventory:read"]));
}

#[tokio::test]
async fn misconfiguration_is_refused_at_build() {
    let issuer = Issuer::start().await;
    let no_creds = Guard::builder(&issuer.url, AUD).build().await.unwrap_err();
    assert!(no_creds.to_string().contains("client_credentials"), "{no_creds}");
    Guard::builder(&issuer.url, AUD).without_revocation_feed().build().await.unwrap();
    let plain = Guard::builder("http://auth.example.com", AUD).without_revocation_feed().build().await.unwrap_err();
    assert!(plain.to_string().contains("https"), "{plain}");
    let nobody = Guard::builder("http://127.0.0.1:9", AUD).without_revocation_feed().build().await.unwrap_err();
    assert!(matches!(nobody, tessera_guard::GuardError::Unreachable(_)), "{nobody}");
    let none = issuer.guard().await.algorithms(&[]).build().await.unwrap_err();
    assert!(none.to_string().contains("algorithm"), "{none}");
}
