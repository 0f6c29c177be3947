//! The one place where an [`OAuthError`] becomes an HTTP response
//! (RFC 6749 §5.2, RFC 7009 §2.2.1, RFC 6750 §3.1).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_core::OAuthError;
use tessera_proto::{ErrorCode, ErrorResponse};

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub OAuthError);

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        Self(e)
    }
}

pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
        ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = status_of(e.code);
        match (&e.cause, status.is_server_error()) {
            (Some(cause), true) => tracing::error!(error = %e.code, %cause, "request failed"),
            (Some(cause), false) => tracing::info!(error = %e.code, %cause, "request refused"),
            (None, _) => {
                tracing::debug!(error = %e.code, description = %e.description, "request refused")
            }
        }
        let body = ErrorResponse { error: e.code, error_description: Some(e.description) };
        let mut resp = (status, axum::Json(body)).into_response();
        // For handlers that add headers to some errors (`DPoP-Nonce`).
        resp.extensions_mut().insert(e.code);
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        match e.code {
            ErrorCode::InvalidClient => {
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"tessera\""));
            }
            ErrorCode::TemporarilyUnavailable => {
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        resp
    }
}
