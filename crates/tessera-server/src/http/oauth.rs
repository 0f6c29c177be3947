//! OAuth endpoints: thin handlers that hand a parsed request to
//! [`tessera_core::Authority`] and its answer back to the client.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use super::request::OAuthRequest;

/// Token, introspection and revocation answers are never cached (RFC 6749 §5.1).
fn no_store(body: impl IntoResponse) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// `POST /oauth2/token` (RFC 6749 §3.2).
pub async fn token(State(s): State<AppState>, req: OAuthRequest) -> Result<Response, ApiError> {
    Ok(no_store(Json(s.authority.token(req.authorization(), &req.params).await?)))
}

/// `POST /oauth2/introspect` (RFC 7662 §2).
pub async fn introspect(State(s): State<AppState>, req: OAuthRequest) -> Result<Response, ApiError> {
    Ok(no_store(Json(s.authority.introspect(req.authorization(), &req.params).await?)))
}

/// `POST /oauth2/revoke` (RFC 7009 §2): 200 with an empty body.
pub async fn revoke(State(s): State<AppState>, req: OAuthRequest) -> Result<Response, ApiError> {
    s.authority.revoke(req.authorization(), &req.params).await?;
    Ok(no_store(()))
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
