//! [`OAuthRequest`]: the body and credentials of a POST to an OAuth endpoint,
//! or an RFC 6749 error if the request is malformed. Handlers never see a
//! request that failed these checks.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use tessera_core::OAuthError;
use tessera_core::params::Params;
use tessera_proto::ErrorCode;

use super::error::ApiError;

/// How long a client may take to send its (at most 64 KiB) body.
pub const BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

pub struct OAuthRequest {
    pub authorization: Option<String>,
    pub params: Params,
}

impl OAuthRequest {
    pub fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }
}

impl<S: Send + Sync> FromRequest<S> for OAuthRequest {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bad = |m: &str| ApiError(OAuthError::invalid_request(m));
        // RFC 6749 §2.3.1 / §3.2: credentials and parameters never in the URL.
        if req.uri().query().is_some_and(|q| !q.is_empty()) {
            return Err(bad("parameters must be sent in the request body, not the URL"));
        }
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(bad("the body must be application/x-www-form-urlencoded"));
        }
        let mut auth = req.headers().get_all(header::AUTHORIZATION).iter();
        let authorization = match (auth.next(), auth.next()) {
            (None, _) => None,
            (Some(v), None) => Some(v.to_str().map_err(|_| bad("malformed Authorization header"))?.to_string()),
            (Some(_), Some(_)) => return Err(bad("more than one Authorization header")),
        };
        let body = match tokio::time::timeout(BODY_DEADLINE, Bytes::from_request(req, state)).await {
            Ok(Ok(b)) => b,
            Ok(Err(r)) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError(OAuthError::new(
                    ErrorCode::RequestTooLarge,
                    "request body is larger than 64 KiB",
                )));
            }
            Ok(Err(_)) => return Err(bad("could not read the request body")),
            Err(_) => return Err(bad("the request body did not arrive in time")),
        };
        let params = Params::parse(&body)?;
        Ok(Self { authorization, params })
    }
}
