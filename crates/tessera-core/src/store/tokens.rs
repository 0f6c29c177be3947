//! Opaque access tokens (RFC 6749 §1.4), found by the digest of the token;
//! the token itself is never stored.

use async_trait::async_trait;

use super::StoreError;
use crate::secret::Digest;

/// An opaque access token as stored: its digest, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueToken {
    pub digest: Digest,
    pub jti: String,
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    pub audience: Vec<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    pub auth_time: Option<i64>,
    pub grant_id: Option<String>,
}

/// Opaque access tokens. They leave through a revocation
/// ([`super::RevokedToken::Opaque`] or of their grant) or a purge.
///
/// Atomicity: an insert returns `Ok` only once committed (a backend may
/// commit many inserts together, but answers none of them before the
/// commit); [`StoreError::Conflict`] if the digest is taken. A token whose
/// revocation has committed is never returned by [`TokenStore::get_token`].
#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn insert_token(&self, token: &OpaqueToken) -> Result<(), StoreError>;
    async fn get_token(&self, digest: &Digest) -> Result<Option<OpaqueToken>, StoreError>;
}
