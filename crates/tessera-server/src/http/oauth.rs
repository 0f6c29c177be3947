//! OAuth endpoints: thin handlers that hand a parsed request to
//! [`tessera_core::Authority`] and its answer back to the client.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tessera_core::OAuthError;
use tessera_core::endpoint::userinfo::{BearerError, Presentation, Scheme};
use tessera_proto::ErrorCode;

use super::AppState;
use super::error::ApiError;
use super::rate_limit::Caller;
use super::request::OAuthRequest;

/// Token, introspection and revocation answers are never cached (RFC 6749 §5.1).
pub(crate) fn no_store(body: impl IntoResponse) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// `POST /oauth2/token` (RFC 6749 §3.2). A browser app (SPA) may call it
/// cross-origin when the client it names registered its origin: the answer,
/// success or error, then carries CORS headers for that origin only.
/// Every `DPoP` header value goes to core, which checks the proof (RFC 9449
/// §4.3) before the grant runs; a request with a proof, and a refusal for a
/// missing or stale nonce, get a fresh `DPoP-Nonce` (§8).
pub async fn token(State(s): State<AppState>, headers: HeaderMap, ext: Extensions, req: OAuthRequest) -> Response {
    let caller = Caller::of(&s, &ext, &req).await;
    let proofs: Vec<&[u8]> = headers.get_all(DPOP).iter().map(HeaderValue::as_bytes).collect();
    let issue = async { Ok(no_store(Json(s.authority.token_with_dpop(&caller.call, &req.params, &proofs).await?))) };
    let admitted = match caller.admit(&s.limits) {
        Ok(()) => caller.issuance(&s),
        Err(l) => Err(l),
    };
    let mut r = match admitted {
        Ok(()) => authenticated(&s, &caller, issue).await,
        Err(l) => l.into_response(),
    };
    offer_dpop_nonce(&s, &mut r, !proofs.is_empty());
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok())
        && caller.client().is_some_and(|c| c.settings.allowed_origins.iter().any(|o| o == origin))
    {
        allow_origin(&mut r, origin);
    }
    r
}

const DPOP: HeaderName = HeaderName::from_static("dpop");
const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// A request with a proof, and a refusal for a missing or stale nonce, get
/// a fresh `DPoP-Nonce` (RFC 9449 §8, §9).
fn offer_dpop_nonce(s: &AppState, r: &mut Response, proof_sent: bool) {
    if (proof_sent || is_error(r, ErrorCode::UseDpopNonce))
        && let Ok(v) = HeaderValue::from_str(&s.authority.dpop_nonce())
    {
        r.headers_mut().insert(DPOP_NONCE, v);
    }
}

/// Whether `r` is the JSON error response carrying `code`.
fn is_error(r: &Response, code: ErrorCode) -> bool {
    r.extensions().get::<ErrorCode>() == Some(&code)
}

/// Runs an endpoint that authenticates the client under the limits on
/// failed client authentication: refused up front while the client id or
/// address is over its budget, charged when the credentials are wrong.
pub(crate) async fn authenticated(
    s: &AppState,
    caller: &Caller,
    work: impl Future<Output = Result<Response, OAuthError>>,
) -> Response {
    if let Err(l) = caller.admit(&s.limits) {
        return l.into_response();
    }
    let result = work.await;
    caller.settle(&s.limits, result.as_ref().err());
    result.unwrap_or_else(|e| ApiError(e).into_response())
}

/// CORS preflight for the token and userinfo endpoints: answered for
/// origins some client registered, refused (no CORS headers) for others.
pub async fn preflight(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok())
        && s.authority.origin_allowed(origin).await
    {
        allow_origin(&mut r, origin);
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type, dpop"));
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    }
    r.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
    r
}

fn allow_origin(r: &mut Response, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("www-authenticate, dpop-nonce"));
    }
}

/// `GET/POST /oauth2/userinfo` (OpenID Connect Core §5.3). The access token
/// only in the `Authorization` header: a token in the URL or the body is
/// refused (RFC 6750 §2.2–2.3 would allow them; they leak into logs). A
/// DPoP-bound token comes with the `DPoP` scheme and a proof (RFC 9449 §7),
/// checked in core against this method and the configured UserInfo URL.
pub async fn userinfo(
    State(s): State<AppState>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let in_body = form_urlencoded::parse(&body).any(|(k, _)| k == "access_token");
    let proofs: Vec<&[u8]> = headers.get_all(DPOP).iter().map(HeaderValue::as_bytes).collect();
    let mut r = if uri.query().is_some_and(|q| !q.is_empty()) || in_body {
        let e = OAuthError::invalid_request("send the access token in the Authorization header only");
        bearer_error(e.into())
    } else {
        let mut auth = headers.get_all(header::AUTHORIZATION).iter();
        match (auth.next().map(|v| v.to_str()), auth.next()) {
            (Some(Err(_)), _) | (Some(_), Some(_)) => {
                bearer_error(OAuthError::invalid_request("one valid Authorization header").into())
            }
            (Some(Ok(h)), None) => {
                let request = Presentation { authorization: Some(h), method: method.as_str(), proofs: &proofs };
                match s.authority.userinfo_with_dpop(request).await {
                    Ok(info) => no_store(Json(info)),
                    Err(e) => bearer_error(e),
                }
            }
            (None, _) => bearer_error(BearerError::bare()),
        }
    };
    offer_dpop_nonce(&s, &mut r, !proofs.is_empty());
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok())
        && s.authority.origin_allowed(origin).await
    {
        allow_origin(&mut r, origin);
    }
    r
}

/// RFC 6750 §3 and RFC 9449 §7.1: the challenge names the error under the
/// scheme it concerns; no token at all gets a bare challenge. Every 401
/// offers both schemes, the one in error first; DPoP proof errors are 401
/// at a resource (400 only at the token endpoint).
fn bearer_error(e: BearerError) -> Response {
    let Some(error) = e.error else {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"tessera\""));
        add_challenge(&mut r, dpop_challenge());
        return r;
    };
    let code = error.code;
    let mut challenge = match e.scheme {
        Scheme::Bearer => "Bearer realm=\"tessera\"".to_string(),
        Scheme::Dpop => dpop_challenge(),
    };
    challenge.push_str(&format!(", error=\"{}\"", code.as_str()));
    if code == ErrorCode::InsufficientScope {
        challenge.push_str(", scope=\"openid\"");
    }
    let mut r = ApiError(error).into_response();
    if matches!(code, ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce) {
        *r.status_mut() = StatusCode::UNAUTHORIZED;
    }
    add_challenge(&mut r, challenge);
    if e.scheme == Scheme::Bearer && r.status() == StatusCode::UNAUTHORIZED {
        add_challenge(&mut r, dpop_challenge());
    }
    r
}

/// `DPoP algs="…"`: the scheme and the proof algorithms accepted.
fn dpop_challenge() -> String {
    let algs: Vec<&str> = tessera_core::dpop::ALGORITHMS.iter().map(|a| a.as_str()).collect();
    format!("DPoP algs=\"{}\"", algs.join(" "))
}

/// One more `WWW-Authenticate` field: the first stays the first.
fn add_challenge(r: &mut Response, challenge: String) {
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().append(header::WWW_AUTHENTICATE, v);
    }
}

/// `POST /oauth2/device_authorization` (RFC 8628 §3.1).
pub async fn device_authorization(State(s): State<AppState>, ext: Extensions, req: OAuthRequest) -> Response {
    let caller = Caller::of(&s, &ext, &req).await;
    let work = async { Ok(no_store(Json(s.authority.device_authorization_for(&caller.call, &req.params).await?))) };
    authenticated(&s, &caller, work).await
}

/// `POST /oauth2/introspect` (RFC 7662 §2), within the caller's introspection budget.
pub async fn introspect(State(s): State<AppState>, ext: Extensions, req: OAuthRequest) -> Response {
    let caller = Caller::of(&s, &ext, &req).await;
    let work = async {
        if let Err(l) = caller.introspect(&s.limits) {
            return Ok(l.into_response());
        }
        Ok(no_store(Json(s.authority.introspect_for(&caller.call, &req.params).await?)))
    };
    authenticated(&s, &caller, work).await
}

/// `POST /oauth2/revoke` (RFC 7009 §2): 200 with an empty body.
pub async fn revoke(State(s): State<AppState>, ext: Extensions, req: OAuthRequest) -> Response {
    let caller = Caller::of(&s, &ext, &req).await;
    let work = async {
        s.authority.revoke_for(&caller.call, &req.params).await?;
        Ok(no_store(()))
    };
    authenticated(&s, &caller, work).await
}

/// `GET /.well-known/oauth-authorization-server` and `/.well-known/openid-configuration`.
pub async fn metadata(State(s): State<AppState>) -> Result<Response, ApiError> {
    Ok(cacheable(Json(s.authority.metadata().await?)))
}

/// `GET /oauth2/jwks`.
pub async fn jwks(State(s): State<AppState>) -> Result<Response, ApiError> {
    Ok(cacheable(Json(s.authority.jwks().await?)))
}

/// Public documents: short caching so key changes spread within a minute.
fn cacheable(body: impl IntoResponse) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    r
}
