//! Signing keys (RFC 7517 key sets are built from them), the private part
//! sealed under the master key.

use async_trait::async_trait;

use super::StoreError;

/// A signing key as stored: the private part sealed under the master key.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    pub sealed_private_key: Vec<u8>,
    pub created_at: i64,
    /// Published in the JWKS from creation, signs from this time on, so
    /// resource servers see a new key before any token carries it.
    pub activates_at: i64,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey").field("kid", &self.kid).field("alg", &self.alg).finish()
    }
}

/// Signing keys. Keys are only ever added here; a key leaves through
/// [`super::RevocationStore::revoke`] of [`super::RevokedToken::Key`].
///
/// Atomicity: an insert is one commit, returns `Ok` only after it, and moves
/// [`super::StoreWide::config_generation`] so every node reloads its keys.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// [`StoreError::Conflict`] if the kid is taken.
    async fn insert_key(&self, key: &StoredKey) -> Result<(), StoreError>;
    /// Ordered by activation time; keys activating at the same second in the
    /// order they were inserted (the later one signs).
    async fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError>;
}
