//! The introspection response (RFC 7662 §2.2).

use serde::{Deserialize, Serialize};

use crate::claims::Audience;

/// An inactive token is exactly `{"active": false}`: every other field is
/// `None` and skipped, so nothing about the token leaks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntrospectionResponse {
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The key the token is bound to (RFC 7800 §3.1; RFC 9449 §6.2):
    /// a resource server must not accept such a token as a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<crate::claims::Confirmation>,
}

impl IntrospectionResponse {
    pub fn inactive() -> Self {
        Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inactive_is_exactly_active_false() {
        let json = serde_json::to_string(&IntrospectionResponse::inactive()).unwrap_or_default();
        assert_eq!(json, r#"{"active":false}"#);
    }
}
