//! JWT access-token claims (RFC 9068 §2.2). Only what a resource server needs:
//! the token stays well under 1 KB.

use serde::{Deserialize, Serialize};

/// `aud` is a single string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// One audience is written as a string, several as an array.
    pub fn from_list(mut list: Vec<String>) -> Self {
        if list.len() == 1 { Self::One(list.remove(0)) } else { Self::Many(list) }
    }

    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Self::One(a) => vec![a.clone()],
            Self::Many(v) => v.clone(),
        }
    }

    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Self::One(a) => a == aud,
            Self::Many(v) => v.iter().any(|a| a == aud),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// When the user signed in (RFC 9068 §2.2.1); absent for machine tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The authorization (grant) this token came from: revoking the grant
    /// revokes every token carrying its id. Absent for client credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// The key the token is bound to (RFC 7800 §3.1; RFC 9449 §6.1 `jkt`);
    /// absent for a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// `cnf` (RFC 7800 §3.1) with the DPoP key's RFC 7638 SHA-256 thumbprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}
