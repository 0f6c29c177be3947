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
        // The cause and the whole chain behind it, once; never in the body.
        match (e.detail(), status.is_server_error()) {
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

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tessera_core::store::{Cause, StoreError};

    use super::*;

    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl Write for Log {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::ErrorKind::Other)?.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The answer and what the log says about it.
    async fn answer(e: OAuthError) -> (StatusCode, String, String) {
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
        let resp = tracing::subscriber::with_default(subscriber, || ApiError(e).into_response());
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        let logged = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap(), logged)
    }

    /// A corrupt row is a 500 and a store that does not answer a 503; the
    /// body is the same as ever, with nothing of the cause in it, and the log
    /// line has the whole chain once.
    #[tokio::test]
    async fn server_errors_log_the_cause_chain_once_and_never_answer_it() {
        let driver = || std::io::Error::other("driver says: row 7 is torn");
        let cases = [
            (
                StoreError::Corrupt(Cause::new("cannot read a column", driver())),
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"error":"server_error","error_description":"internal error"}"#,
            ),
            (
                StoreError::Unavailable(Cause::new("cannot reach the database", driver())),
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"error":"temporarily_unavailable","error_description":"the authorization server is temporarily unavailable"}"#,
            ),
        ];
        for (store_error, want_status, want_body) in cases {
            let context = store_error.to_string();
            let (status, body, logged) = answer(OAuthError::from(store_error)).await;
            assert_eq!((status, body.as_str()), (want_status, want_body));
            assert_eq!(logged.matches("driver says: row 7 is torn").count(), 1, "{logged}");
            assert!(logged.contains(&format!("{context}: driver says")), "{logged}");
        }
    }
}
