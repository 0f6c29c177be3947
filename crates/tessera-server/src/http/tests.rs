//! The HTTP layer over `tower::ServiceExt::oneshot`: routing, status codes,
//! headers and limits, with no socket and no process (the end-to-end suites
//! under `tests/` run the real binary).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use base64ct::{Base64, Encoding};
use serde_json::Value;
use tessera_core::Authority;
use tessera_core::authority::Settings;
use tessera_core::client::NewClient;
use tessera_core::clock::ManualClock;
use tessera_core::keys::MasterKey;
use tessera_core::random::SeededRandom;
use tessera_core::store::memory::MemoryStore;
use tower::ServiceExt;

use super::{AppState, BODY_LIMIT, router};
use crate::config::{Config, Layer};

const ISSUER: &str = "https://as.example";

struct App {
    router: Router,
    secret: String,
    store: Arc<MemoryStore>,
}

/// A router on a memory store with one confidential client `app`
/// (client_credentials, origin https://spa.example) and the given settings.
async fn app(layer: Layer) -> App {
    let store = Arc::new(MemoryStore::new());
    let rng = Arc::new(SeededRandom::new(7));
    let authority = Authority::start(
        Settings::new(ISSUER),
        store.clone(),
        MasterKey::from_bytes([3; 32]),
        Arc::new(ManualClock::new(1_700_000_000)),
        rng.clone(),
    )
    .await
    .unwrap();
    let (client, secret) = NewClient {
        id: Some("app".into()),
        name: "App".into(),
        grant_types: vec!["client_credentials".into()],
        scope: "read".into(),
        allowed_origins: vec!["https://spa.example".into()],
        ..Default::default()
    }
    .build(rng.as_ref(), 1_700_000_000)
    .unwrap();
    tessera_core::store::ClientStore::insert_client(store.as_ref(), &client).await.unwrap();
    let cfg = Config::resolve(layer, Layer::default()).unwrap();
    let state = AppState::new(Arc::new(authority), &cfg);
    App { router: router(state, false), secret: secret.unwrap().expose().to_string(), store }
}

fn from(addr: &str, req: Request<Body>) -> Request<Body> {
    let mut req = req;
    req.extensions_mut().insert(ConnectInfo(addr.parse::<SocketAddr>().unwrap()));
    req
}

fn form(path: &str, auth: Option<(&str, &str)>, body: &str) -> Request<Body> {
    let mut b = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some((id, secret)) = auth {
        b = b.header(
            header::AUTHORIZATION,
            format!("Basic {}", Base64::encode_string(format!("{id}:{secret}").as_bytes())),
        );
    }
    from("192.0.2.10:5000", b.body(Body::from(body.to_string())).unwrap())
}

async fn send(app: &App, req: Request<Body>) -> Response {
    app.router.clone().oneshot(req).await.unwrap()
}

async fn json(r: Response) -> Value {
    let bytes = to_bytes(r.into_body(), usize::MAX).await.unwrap();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

fn h<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_token_is_issued_and_never_cached() {
    let a = app(Layer::default()).await;
    let r = send(&a, form("/oauth2/token", Some(("app", &a.secret)), "grant_type=client_credentials")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(h(&r, "cache-control"), Some("no-store"));
    assert_eq!(h(&r, "x-content-type-options"), Some("nosniff"));
    let body = json(r).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read");
}

#[tokio::test]
async fn bad_input_gets_rfc_6749_errors() {
    let a = app(Layer::default()).await;
    let r = send(&a, form("/oauth2/token", None, "grant_type=client_credentials")).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(r).await["error"], "invalid_client");
    let r = send(&a, form("/oauth2/token", Some(("app", "wrong")), "grant_type=client_credentials")).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(r).await["error"], "invalid_client");
    let r = send(&a, form("/oauth2/token", Some(("app", &a.secret)), "grant_type=password")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(r).await["error"], "unsupported_grant_type");
    let big = format!("grant_type=client_credentials&scope={}", "a".repeat(BODY_LIMIT));
    let r = send(&a, form("/oauth2/token", Some(("app", &a.secret)), &big)).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let r = send(&a, from("192.0.2.10:5000", Request::get("/nope").body(Body::empty()).unwrap())).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(r).await["error"], "not_found");
    let r = send(&a, from("192.0.2.10:5000", Request::get("/oauth2/token").body(Body::empty()).unwrap())).await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn userinfo_answers_with_bearer_challenges() {
    let a = app(Layer::default()).await;
    let r = send(&a, from("192.0.2.10:5000", Request::get("/oauth2/userinfo").body(Body::empty()).unwrap())).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(h(&r, "www-authenticate"), Some("Bearer realm=\"tessera\""));
    let req = Request::get("/oauth2/userinfo?access_token=x").body(Body::empty()).unwrap();
    let r = send(&a, from("192.0.2.10:5000", req)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(h(&r, "www-authenticate"), Some("Bearer realm=\"tessera\", error=\"invalid_request\""));
}

#[tokio::test]
async fn cors_only_for_registered_origins() {
    let a = app(Layer::default()).await;
    let preflight = |origin: &str| {
        let req = Request::options("/oauth2/token").header(header::ORIGIN, origin).body(Body::empty()).unwrap();
        from("192.0.2.10:5000", req)
    };
    let r = send(&a, preflight("https://spa.example")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(h(&r, "access-control-allow-origin"), Some("https://spa.example"));
    let r = send(&a, preflight("https://evil.example")).await;
    assert_eq!(h(&r, "access-control-allow-origin"), None);
    assert_eq!(h(&r, "vary"), Some("Origin"));
}

#[tokio::test]
async fn discovery_is_cacheable_and_names_this_issuer() {
    let a = app(Layer::default()).await;
    let req = Request::get("/.well-known/openid-configuration").body(Body::empty()).unwrap();
    let r = send(&a, from("192.0.2.10:5000", req)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(h(&r, "cache-control"), Some("public, max-age=60"));
    let m = json(r).await;
    assert_eq!(m["issuer"], ISSUER);
    assert_eq!(m["token_endpoint"], format!("{ISSUER}/oauth2/token"));
}

#[tokio::test]
async fn failed_client_authentication_is_limited_per_address() {
    let layer = Layer { rate_limit_auth_failures_per_address: Some("2/m".into()), ..Default::default() };
    let a = app(layer).await;
    for _ in 0..3 {
        let r = send(&a, form("/oauth2/token", Some(("app", "wrong")), "grant_type=client_credentials")).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = send(&a, form("/oauth2/token", Some(("app", &a.secret)), "grant_type=client_credentials")).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "even the right secret waits from this address");
    assert!(h(&r, "retry-after").and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s >= 1));
    assert_eq!(json(r).await["error"], "temporarily_unavailable");
    // Another address is not held back by this one.
    let mut req = form("/oauth2/token", Some(("app", &a.secret)), "grant_type=client_credentials");
    req.extensions_mut().insert(ConnectInfo("198.51.100.7:5000".parse::<SocketAddr>().unwrap()));
    assert_eq!(send(&a, req).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_public_client_never_gets_client_credentials() {
    let a = app(Layer::default()).await;
    // Registration refuses this client; build it by hand, as a hand-edited row would be.
    let (mut client, _) = NewClient {
        id: Some("spa".into()),
        name: "SPA".into(),
        grant_types: vec!["authorization_code".into()],
        scope: "read".into(),
        redirect_uris: vec!["https://spa.example/cb".into()],
        public: true,
        ..Default::default()
    }
    .build(&SeededRandom::new(8), 1_700_000_000)
    .unwrap();
    client.settings.grant_types.push(tessera_core::client::GrantType::ClientCredentials);
    tessera_core::store::ClientStore::insert_client(a.store.as_ref(), &client).await.unwrap();
    let r = send(&a, form("/oauth2/token", None, "grant_type=client_credentials&client_id=spa")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(r).await["error"], "unauthorized_client");
}
