//! A stub issuer for the guard's tests: metadata, a JWKS we hold the private
//! keys of, a revocation feed and an introspection endpoint we script.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Value, json};
use tessera_proto::{IntrospectionResponse, RevocationFeed, RevocationFeedEntry, RevokedKind};

pub const AUD: &str = "https://inventory.example";

pub fn b64(b: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(b)
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[derive(Default)]
pub struct StubState {
    pub jwks: Value,
    pub jwks_fetches: usize,
    pub feed: Vec<RevocationFeedEntry>,
    pub feed_down: bool,
    pub feed_calls: usize,
    pub introspection: HashMap<String, IntrospectionResponse>,
    pub introspections: usize,
}

pub struct Issuer {
    pub url: String,
    pub ed_seed: [u8; 32],
    pub ed: Ed25519KeyPair,
    pub ed_kid: String,
    pub es: EcdsaKeyPair,
    pub es_kid: String,
    pub state: Arc<Mutex<StubState>>,
    wake: Arc<tokio::sync::Notify>,
}

#[derive(Clone)]
struct Shared {
    issuer: String,
    state: Arc<Mutex<StubState>>,
    wake: Arc<tokio::sync::Notify>,
}

impl Issuer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut ed_seed = [0u8; 32];
        aws_lc_rs::rand::fill(&mut ed_seed).unwrap();
        let ed = Ed25519KeyPair::from_seed_unchecked(&ed_seed).unwrap();
        let es_pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        let es = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, es_pkcs8.as_ref()).unwrap();
        let state = Arc::new(Mutex::new(StubState::default()));
        let wake = Arc::new(tokio::sync::Notify::new());
        let issuer =
            Self { url: url.clone(), ed_seed, ed, ed_kid: "ed-1".into(), es, es_kid: "es-1".into(), state, wake };
        issuer.publish(&[issuer.ed_jwk(), issuer.es_jwk()]);
        let shared = Shared { issuer: url, state: issuer.state.clone(), wake: issuer.wake.clone() };
        let app = Router::new()
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .route("/jwks", get(jwks))
            .route("/oauth2/revocations", get(feed))
            .route("/oauth2/introspect", post(introspect))
            .with_state(shared);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        issuer
    }

    pub fn ed_jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "kid": self.ed_kid, "use": "sig", "alg": "EdDSA",
               "x": b64(self.ed.public_key().as_ref())})
    }

    /// The private half, as a JWK for third-party libraries.
    pub fn ed_private_jwk(&self) -> Value {
        let mut j = self.ed_jwk();
        j["d"] = json!(b64(&self.ed_seed));
        j
    }

    pub fn es_jwk(&self) -> Value {
        let p = self.es.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "kid": self.es_kid, "use": "sig", "alg": "ES256",
               "x": b64(&p[1..33]), "y": b64(&p[33..65])})
    }

    pub fn publish(&self, keys: &[Value]) {
        self.state.lock().unwrap().jwks = json!({ "keys": keys });
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.lock().unwrap().jwks_fetches
    }

    pub fn revoke(&self, kind: RevokedKind, value: &str, revoked_at: i64) {
        let mut s = self.state.lock().unwrap();
        let seq = s.feed.len() as i64 + 1;
        s.feed.push(RevocationFeedEntry {
            seq,
            kind,
            value: value.into(),
            client_id: "app".into(),
            exp: now() + 3600,
            revoked_at,
        });
        drop(s);
        self.wake.notify_waiters();
    }

    pub fn set_feed_down(&self, down: bool) {
        self.state.lock().unwrap().feed_down = down;
        self.wake.notify_waiters();
    }

    /// Good claims for this issuer and audience, valid for 5 minutes.
    pub fn claims(&self) -> Value {
        let t = now();
        json!({"iss": self.url, "sub": "alice", "aud": AUD, "exp": t + 300, "iat": t, "jti": format!("j-{}", uuid()),
               "client_id": "app", "scope": "inventory:read"})
    }

    pub fn sign_ed(&self, header: &Value, claims: &Value) -> String {
        let input = signing_input(header, claims);
        let sig = self.ed.sign(input.as_bytes());
        format!("{input}.{}", b64(sig.as_ref()))
    }

    pub fn sign_es(&self, header: &Value, claims: &Value) -> String {
        let input = signing_input(header, claims);
        let sig = self.es.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", b64(sig.as_ref()))
    }

    pub fn header(&self) -> Value {
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": self.ed_kid})
    }

    /// A valid token.
    pub fn token(&self) -> String {
        self.sign_ed(&self.header(), &self.claims())
    }

    pub async fn guard(&self) -> tessera_guard::GuardBuilder {
        tessera_guard::Guard::builder(&self.url, AUD)
            .client_credentials("inventory-api", "s3cret")
            .min_jwks_refetch(Duration::from_millis(300))
            .feed_wait(Duration::from_secs(1))
            .max_staleness(Duration::from_secs(3))
    }
}

pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()))
}

fn uuid() -> String {
    let mut b = [0u8; 8];
    aws_lc_rs::rand::fill(&mut b).unwrap();
    hex::encode(b)
}

async fn metadata(State(s): State<Shared>) -> Json<Value> {
    let i = &s.issuer;
    Json(json!({
        "issuer": i, "token_endpoint": format!("{i}/oauth2/token"), "jwks_uri": format!("{i}/jwks"),
        "introspection_endpoint": format!("{i}/oauth2/introspect"), "revocation_endpoint": format!("{i}/oauth2/revoke"),
        "revocation_feed_endpoint": format!("{i}/oauth2/revocations"),
        "grant_types_supported": ["client_credentials"], "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic"], "scopes_supported": []
    }))
}

async fn jwks(State(s): State<Shared>) -> Json<Value> {
    let mut st = s.state.lock().unwrap();
    st.jwks_fetches += 1;
    Json(st.jwks.clone())
}

async fn feed(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let after: i64 = q.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let wait: u64 = q.get("wait").and_then(|a| a.parse().ok()).unwrap_or(0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        let notified = s.wake.notified();
        {
            let mut st = s.state.lock().unwrap();
            st.feed_calls += 1;
            if st.feed_down {
                return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
            }
            let entries: Vec<_> = st.feed.iter().filter(|e| e.seq > after).cloned().collect();
            if !entries.is_empty() || tokio::time::Instant::now() >= deadline {
                let head = st.feed.len() as i64;
                return Json(RevocationFeed { revocations: entries, head }).into_response();
            }
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}

async fn introspect(State(s): State<Shared>, body: axum::body::Bytes) -> Json<IntrospectionResponse> {
    let mut st = s.state.lock().unwrap();
    st.introspections += 1;
    let token =
        url::form_urlencoded::parse(&body).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned()).unwrap_or_default();
    Json(st.introspection.get(&token).cloned().unwrap_or_default())
}
