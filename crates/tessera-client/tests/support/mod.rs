//! A stub authorization server and API on 127.0.0.1:0 that counts requests,
//! and a clock the tests move by hand.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tessera_client::{Clock, RetryPolicy};

pub const TOKEN_PATH: &str = "/custom/token";

/// A canned token endpoint answer, served before the default behaviour.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub retry_after: Option<u64>,
}

impl Reply {
    pub fn oauth_error(status: u16, code: &str, description: &str) -> Self {
        let body = json!({ "error": code, "error_description": description }).to_string();
        Self { status, body, retry_after: None }
    }

    pub fn plain(status: u16, body: &str) -> Self {
        Self { status, body: body.into(), retry_after: None }
    }

    pub fn token_json(body: serde_json::Value) -> Self {
        Self { status: 200, body: body.to_string(), retry_after: None }
    }
}

/// What the token endpoint saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub authorization: Option<String>,
    pub form: Vec<(String, String)>,
}

impl Seen {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn params(&self, name: &str) -> Vec<&str> {
        self.form.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
}

#[derive(Default)]
pub struct StubState {
    pub base: Mutex<String>,
    pub metadata_hits: AtomicUsize,
    pub token_hits: AtomicUsize,
    pub api_hits: AtomicUsize,
    pub script: Mutex<VecDeque<Reply>>,
    pub seen: Mutex<Vec<Seen>>,
    pub api_seen: Mutex<Vec<Option<String>>>,
    pub expires_in: AtomicU64,
    pub delay_ms: AtomicU64,
    pub next: AtomicUsize,
    pub issued: Mutex<HashSet<String>>,
    pub revoked: Mutex<HashSet<String>>,
    pub api_always_401: AtomicBool,
    /// The one refresh token the stub accepts; `None` once the family is revoked.
    pub refresh_valid: Mutex<Option<String>>,
    pub issuer_override: Mutex<Option<String>>,
}

pub struct Stub {
    pub base: String,
    pub state: Arc<StubState>,
}

impl Stub {
    pub async fn start() -> Self {
        let state = Arc::new(StubState::default());
        state.expires_in.store(3600, Ordering::SeqCst);
        let app = Router::new()
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .route(TOKEN_PATH, post(token))
            .route("/api/items", get(api).post(api))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        *state.base.lock().unwrap() = base.clone();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, state }
    }

    pub fn token_hits(&self) -> usize {
        self.state.token_hits.load(Ordering::SeqCst)
    }

    pub fn metadata_hits(&self) -> usize {
        self.state.metadata_hits.load(Ordering::SeqCst)
    }

    pub fn api_hits(&self) -> usize {
        self.state.api_hits.load(Ordering::SeqCst)
    }

    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn api_seen(&self) -> Vec<Option<String>> {
        self.state.api_seen.lock().unwrap().clone()
    }

    pub fn set_expires_in(&self, secs: u64) {
        self.state.expires_in.store(secs, Ordering::SeqCst);
    }

    pub fn set_delay(&self, d: Duration) {
        self.state.delay_ms.store(d.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn revoke(&self, access_token: &str) {
        self.state.revoked.lock().unwrap().insert(access_token.into());
    }

    pub fn set_refresh_valid(&self, rt: Option<&str>) {
        *self.state.refresh_valid.lock().unwrap() = rt.map(Into::into);
    }

    pub fn refresh_valid(&self) -> Option<String> {
        self.state.refresh_valid.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Fast, bounded retries so failure tests take milliseconds.
pub fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        attempt_timeout: Duration::from_secs(5),
    }
}

async fn metadata(State(s): State<Arc<StubState>>) -> Response {
    s.metadata_hits.fetch_add(1, Ordering::SeqCst);
    let base = s.base.lock().unwrap().clone();
    let issuer = s.issuer_override.lock().unwrap().clone().unwrap_or_else(|| base.clone());
    axum::Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{base}{TOKEN_PATH}"),
        "jwks_uri": format!("{base}/jwks"),
        "introspection_endpoint": format!("{base}/introspect"),
        "revocation_endpoint": format!("{base}/revoke"),
        "grant_types_supported": ["client_credentials", "refresh_token"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic"],
        "scopes_supported": ["read", "write"],
    }))
    .into_response()
}

async fn token(State(s): State<Arc<StubState>>, headers: HeaderMap, body: String) -> Response {
    s.token_hits.fetch_add(1, Ordering::SeqCst);
    let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let seen =
        Seen { authorization: headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(Into::into), form };
    s.seen.lock().unwrap().push(seen.clone());
    let delay = s.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if let Some(r) = s.script.lock().unwrap().pop_front() {
        let mut resp = (StatusCode::from_u16(r.status).unwrap(), r.body).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        if let Some(after) = r.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, after.to_string().parse().unwrap());
        }
        return resp;
    }
    let n = s.next.fetch_add(1, Ordering::SeqCst) + 1;
    let access_token = format!("at-{n}");
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": s.expires_in.load(Ordering::SeqCst),
    });
    if let Some(scope) = seen.param("scope") {
        body["scope"] = scope.into();
    }
    if seen.param("grant_type") == Some("refresh_token") {
        let mut valid = s.refresh_valid.lock().unwrap();
        if valid.is_none() || valid.as_deref() != seen.param("refresh_token") {
            // Reuse of a spent token: revoke the family, as Tessera does.
            *valid = None;
            let e = json!({ "error": "invalid_grant", "error_description": "refresh token is not valid" });
            return (StatusCode::BAD_REQUEST, axum::Json(e)).into_response();
        }
        let rotated = format!("rt-{n}");
        *valid = Some(rotated.clone());
        body["refresh_token"] = rotated.into();
    }
    s.issued.lock().unwrap().insert(access_token);
    axum::Json(body).into_response()
}

async fn api(State(s): State<Arc<StubState>>, headers: HeaderMap) -> Response {
    s.api_hits.fetch_add(1, Ordering::SeqCst);
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(String::from);
    s.api_seen.lock().unwrap().push(auth.clone());
    let token = auth.as_deref().and_then(|a| a.strip_prefix("Bearer ")).unwrap_or_default();
    let ok = !s.api_always_401.load(Ordering::SeqCst)
        && s.issued.lock().unwrap().contains(token)
        && !s.revoked.lock().unwrap().contains(token);
    if ok {
        (StatusCode::OK, "items").into_response()
    } else {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        r.headers_mut().insert(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"".parse().unwrap());
        r
    }
}

/// A clock that moves only when told to.
#[derive(Clone)]
pub struct ManualClock {
    start: Instant,
    offset: Arc<Mutex<Duration>>,
}

impl ManualClock {
    pub fn new() -> Self {
        Self { start: Instant::now(), offset: Arc::default() }
    }

    pub fn advance(&self, d: Duration) {
        *self.offset.lock().unwrap() += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + *self.offset.lock().unwrap()
    }
}
