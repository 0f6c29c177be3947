//! Access-token formats. A client picks one at registration
//! ([`crate::client::TokenFormat`]); both carry the same facts.

pub mod jwt;
pub mod opaque;

/// What an issued access token says, whatever its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFacts {
    pub jti: String,
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    pub audience: Vec<String>,
    pub issued_at: i64,
    pub expires_at: i64,
}
