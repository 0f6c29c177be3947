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
    /// The store failure behind it, as [`std::error::Error::source`].
    source: Option<StoreError>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self { code, description: description.into(), cause: None, source: None }
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
        Self {
            code: ErrorCode::ServerError,
            description: "internal error".into(),
            cause: Some(cause.into()),
            source: None,
        }
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for OAuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A store that cannot answer means "try again later" (`temporarily_unavailable`,
/// 503), never success. A corrupt row is different: a retry reads the same
/// row, so it is an internal error (`server_error`, 500).
impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        let mut out = match e {
            StoreError::Corrupt(_) => Self::server_error(e.to_string()),
            StoreError::Unavailable(_) | StoreError::Conflict => Self {
                code: ErrorCode::TemporarilyUnavailable,
                description: "the authorization server is temporarily unavailable".into(),
                cause: Some(e.to_string()),
                source: None,
            },
        };
        out.source = Some(e);
        out
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_corrupt_row_is_an_internal_error_not_a_retry() {
        let e = OAuthError::from(StoreError::Corrupt("digest length".into()));
        assert_eq!(e.code, ErrorCode::ServerError);
        assert_eq!(e.source().map(|s| s.to_string()), Some("corrupt record: digest length".into()));
    }

    #[test]
    fn sign_in_pages_tell_a_corrupt_row_from_an_outage() {
        use crate::endpoint::device::DeviceLookupError;
        use crate::endpoint::session::LoginError;
        let corrupt = || StoreError::Corrupt("x".into());
        let down = || StoreError::Unavailable("x".into());
        assert!(matches!(LoginError::from(corrupt()), LoginError::Internal(_)));
        assert!(matches!(LoginError::from(down()), LoginError::Unavailable(_)));
        assert!(matches!(DeviceLookupError::from(corrupt()), DeviceLookupError::Internal(_)));
        assert!(matches!(DeviceLookupError::from(down()), DeviceLookupError::Unavailable(_)));
    }

    #[test]
    fn an_unavailable_store_is_a_retry() {
        let e = OAuthError::from(StoreError::Unavailable("pool timed out".into()));
        assert_eq!(e.code, ErrorCode::TemporarilyUnavailable);
        assert_eq!(e.source().map(|s| s.to_string()), Some("store unavailable: pool timed out".into()));
    }
}
