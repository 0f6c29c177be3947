//! OAuth error codes (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1, RFC 8707 §2,
//! RFC 9449 §12.2)
//! and the JSON body that carries them.

use serde::{Deserialize, Serialize};

/// Every error code Tessera may put in an `error` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    /// RFC 8707 §2: a `resource` the client may not ask for.
    InvalidTarget,
    /// RFC 7009 §2.2.1.
    UnsupportedTokenType,
    /// RFC 6750 §3.1.
    InvalidToken,
    InsufficientScope,
    /// RFC 6749 §4.1.2.1: the user or server denied the request.
    AccessDenied,
    UnsupportedResponseType,
    /// OpenID Connect Core §3.1.2.6 (`prompt=none`).
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    /// RFC 8628 §3.5.
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    ServerError,
    TemporarilyUnavailable,
    /// RFC 9449 §12.2: the DPoP proof is missing (where required) or invalid.
    InvalidDpopProof,
    /// RFC 9449 §8: send a proof with the server nonce from `DPoP-Nonce`.
    UseDpopNonce,
    /// Not an RFC code: an unknown route. Kept in the same JSON shape.
    NotFound,
    /// Not an RFC code: a body over the size limit.
    RequestTooLarge,
    /// Not an RFC code: a method the route does not serve.
    MethodNotAllowed,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::NotFound => "not_found",
            Self::RequestTooLarge => "request_too_large",
            Self::MethodNotAllowed => "method_not_allowed",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON error body of RFC 6749 §5.2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: ErrorCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_match_as_str() {
        for code in [
            ErrorCode::InvalidRequest,
            ErrorCode::InvalidClient,
            ErrorCode::InvalidTarget,
            ErrorCode::TemporarilyUnavailable,
            ErrorCode::UnsupportedGrantType,
            ErrorCode::UnsupportedResponseType,
            ErrorCode::LoginRequired,
            ErrorCode::AccessDenied,
            ErrorCode::InvalidDpopProof,
            ErrorCode::UseDpopNonce,
        ] {
            let json = serde_json::to_string(&code).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}
