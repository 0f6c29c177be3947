//! Core's one error type, mapped once to RFC error codes. The description is
//! safe to show a client; the cause is for the log and never leaves the server.

use tessera_proto::ErrorCode;

use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
    /// Internal detail for the operator's log; never sent to the client.
    pub cause: Option<String>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self { code, description: description.into(), cause: None }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, d)
    }
    pub fn invalid_target(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidTarget, d)
    }
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, d)
    }
    pub fn server_error(cause: impl Into<String>) -> Self {
        Self { code: ErrorCode::ServerError, description: "internal error".into(), cause: Some(cause.into()) }
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for OAuthError {}

/// A store that cannot answer means "try again later", never success.
impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        Self {
            code: ErrorCode::TemporarilyUnavailable,
            description: "the authorization server is temporarily unavailable".into(),
            cause: Some(e.to_string()),
        }
    }
}
