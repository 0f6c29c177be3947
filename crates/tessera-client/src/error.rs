//! The one error type of this crate, and which errors are worth retrying.

use std::sync::Arc;

use reqwest::StatusCode;
use tessera_proto::ErrorCode;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while getting a token or calling an API with one.
///
/// `Clone` so that one failed token request can be handed to every caller
/// that was waiting on it (see [`crate::TokenSource::token`]); transport
/// errors are kept behind an `Arc` for that reason.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The authorization server answered with an RFC 6749 §5.2 error body
    /// (`invalid_client`, `invalid_grant`, `invalid_scope`, …). Only
    /// `temporarily_unavailable`, `slow_down` and `server_error` are retried.
    #[error("the authorization server rejected the request ({status}): {code}{}", describe(description))]
    Rejected { status: StatusCode, code: ErrorCode, description: Option<String> },

    /// A non-success status without an OAuth error body (a proxy's 502 page,
    /// a bare 429, an unknown error code). Retried when the status is 408,
    /// 429 or 5xx. `body` is the start of the body, for logs.
    #[error("unexpected HTTP status {status} from the authorization server")]
    UnexpectedStatus { status: StatusCode, body: String },

    /// The request could not be sent or its response not read (connection
    /// refused, reset, timeout). Retried, except for request-building errors.
    #[error("HTTP request failed: {0}")]
    Transport(#[source] Arc<reqwest::Error>),

    /// A success response that is not a usable token or metadata document
    /// (bad JSON, a `token_type` other than `Bearer`, an oversized body).
    #[error("invalid response from the authorization server: {0}")]
    InvalidResponse(String),

    /// Metadata discovery (RFC 8414) found no usable document, or one whose
    /// `issuer` is not the configured issuer (RFC 8414 §3.3).
    #[error("authorization server discovery failed: {0}")]
    Discovery(String),

    /// The source was configured in a way that can never work.
    #[error("invalid client configuration: {0}")]
    Config(String),

    /// The background task fetching a token panicked or its runtime shut down.
    #[error("token request task failed: {0}")]
    TaskFailed(String),
}

fn describe(description: &Option<String>) -> String {
    description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
}

impl Error {
    /// The RFC 6749 §5.2 error code, when the server sent one.
    pub fn oauth_code(&self) -> Option<ErrorCode> {
        match self {
            Self::Rejected { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether trying again later may succeed.
    ///
    /// An OAuth error body decides by its code alone: `invalid_client` stays
    /// fatal even if a confused server sends it with a 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Rejected { code, .. } => {
                matches!(code, ErrorCode::TemporarilyUnavailable | ErrorCode::SlowDown | ErrorCode::ServerError)
            }
            Self::UnexpectedStatus { status, .. } => transient_status(*status),
            Self::Transport(e) => !e.is_builder(),
            Self::InvalidResponse(_) | Self::Discovery(_) | Self::Config(_) | Self::TaskFailed(_) => false,
        }
    }

    pub(crate) fn transport(e: reqwest::Error) -> Self {
        Self::Transport(Arc::new(e))
    }
}

pub(crate) fn transient_status(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(code: ErrorCode, status: StatusCode) -> Error {
        Error::Rejected { status, code, description: None }
    }

    #[test]
    fn oauth_codes_decide_retry() {
        for code in [ErrorCode::TemporarilyUnavailable, ErrorCode::SlowDown, ErrorCode::ServerError] {
            assert!(rejected(code, StatusCode::BAD_REQUEST).is_transient(), "{code}");
        }
        for code in [
            ErrorCode::InvalidClient,
            ErrorCode::InvalidGrant,
            ErrorCode::InvalidScope,
            ErrorCode::UnauthorizedClient,
            ErrorCode::UnsupportedGrantType,
            ErrorCode::InvalidRequest,
            ErrorCode::InvalidTarget,
        ] {
            // Even with a 503 these are the client's fault: retrying cannot help.
            assert!(!rejected(code, StatusCode::SERVICE_UNAVAILABLE).is_transient(), "{code}");
        }
    }

    #[test]
    fn bare_statuses() {
        let s = |n: u16| Error::UnexpectedStatus {
            status: StatusCode::from_u16(n).unwrap_or_default(),
            body: String::new(),
        };
        assert!(s(500).is_transient() && s(502).is_transient() && s(429).is_transient() && s(408).is_transient());
        assert!(!s(400).is_transient() && !s(404).is_transient() && !s(401).is_transient());
    }

    #[test]
    fn display_names_code_and_description() {
        let e = Error::Rejected {
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::InvalidClient,
            description: Some("client authentication failed".into()),
        };
        assert_eq!(
            e.to_string(),
            "the authorization server rejected the request (401 Unauthorized): invalid_client (client authentication failed)"
        );
        assert_eq!(e.oauth_code(), Some(ErrorCode::InvalidClient));
    }
}
