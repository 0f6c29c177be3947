//! Opaque access tokens (RFC 6749 §1.4), found by the key of the token
//! (its time-ordered lookup id and a digest of it, [`TokenKey`]); the token
//! itself is never stored.

use async_trait::async_trait;

use super::StoreError;
use crate::ids::ClientId;
use crate::scope::ScopeSet;
use crate::secret::{Digest, TokenId, TokenKey};

/// An opaque access token as stored: its digest, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueToken {
    /// SHA-256 of the whole token (what the revocation feed names).
    pub digest: Digest,
    /// Its lookup id; `None` for tokens issued before ids. The row is keyed
    /// by [`TokenKey::stored`].
    pub id: Option<TokenId>,
    pub jti: String,
    pub client_id: ClientId,
    /// A user's id, or the client's own for client credentials.
    pub subject: String,
    /// Parsed when the row is read; stored as the scope string.
    pub scope: ScopeSet,
    pub audience: Vec<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    pub auth_time: Option<i64>,
    pub grant_id: Option<String>,
    /// The RFC 7638 SHA-256 thumbprint of the key the token is bound to
    /// (DPoP, RFC 9449 §6: `cnf.jkt`); `None` for a bearer token.
    pub jkt: Option<String>,
}

/// Opaque access tokens. They leave through a revocation
/// ([`super::RevokedToken::Opaque`] or of their grant) or a purge.
///
/// Atomicity: an insert returns `Ok` only once committed (a backend may
/// commit many inserts together, but answers none of them before the
/// commit); [`StoreError::Conflict`] if the key is taken. A token whose
/// revocation has committed is never returned by [`TokenStore::find_token`]
/// (a token with an id keeps its row until it expires, since its revocation
/// names it by SHA-256 only; the lookup checks the revocation).
#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn insert_token(&self, token: &OpaqueToken) -> Result<(), StoreError>;
    /// The token under `key`: the rows sharing its id, the whole key
    /// compared with [`Digest::ct_eq`].
    async fn find_token(&self, key: &TokenKey) -> Result<Option<OpaqueToken>, StoreError>;
    /// A token issued before ids, by its SHA-256.
    async fn get_token(&self, digest: &Digest) -> Result<Option<OpaqueToken>, StoreError> {
        self.find_token(&TokenKey::legacy(*digest)).await
    }
}
