//! Token formats: `jwt.rs` (RFC 9068 access tokens), `opaque.rs`,
//! `id_token.rs` (OpenID Connect Core §2). Access-token formats. A client picks one at registration
//! ([`crate::client::TokenFormat`]); both carry the same facts.

pub mod id_token;
pub mod jwt;
pub mod opaque;

use crate::ids::ClientId;

/// One day: access tokens are meant to be short; longer needs refresh
/// tokens. Signing keys and revocations are kept this long after their last use.
pub const MAX_ACCESS_TOKEN_TTL: u64 = 24 * 60 * 60;

/// What an issued access token says, whatever its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFacts {
    pub jti: String,
    pub client_id: ClientId,
    pub subject: String,
    pub scope: String,
    pub audience: Vec<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    /// When the user signed in; `None` for machine tokens.
    pub auth_time: Option<i64>,
    /// The grant the token belongs to; `None` for client credentials.
    pub grant_id: Option<String>,
    /// The RFC 7638 thumbprint of the DPoP key the token is bound to
    /// (RFC 9449 §6); `None` for a bearer token.
    pub jkt: Option<String>,
}
