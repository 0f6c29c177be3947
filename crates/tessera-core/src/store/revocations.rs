//! Revocations (RFC 7009) and the feed that carries them to every node and
//! resource server.

use async_trait::async_trait;

use super::StoreError;
use crate::secret::Digest;

/// What a revocation names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RevokedToken {
    /// A JWT access token, by `jti`.
    Jti(String),
    /// An opaque access token, by digest; revoking it also deletes the token.
    Opaque(Digest),
    /// Every token of a grant; revoking it also deletes the grant, its
    /// opaque access tokens and its refresh tokens.
    Grant(String),
    /// Every token of a client issued at or before `revoked_at`: the client
    /// was deleted. Recording it deletes nothing; deleting the client does.
    Client(String),
    /// Every token signed by the signing key `kid` (a compromised key).
    /// Recording it also deletes the key, in the same commit, so it leaves
    /// the JWKS and never signs or verifies again, on every node; the
    /// configuration generation moves as for any key change.
    Key(String),
}

/// A revocation, kept until the token it names would have expired anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub token: RevokedToken,
    pub client_id: String,
    pub expires_at: i64,
    pub revoked_at: i64,
}

/// A revocation with its place in the feed; sequence numbers only grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationEntry {
    pub seq: i64,
    pub revocation: Revocation,
}

/// The revocation feed.
///
/// Atomicity: [`RevocationStore::revoke`] records the entry and deletes what
/// it names (see [`RevokedToken`]) in one commit, and returns only after it.
/// Sequence numbers are handed out in commit order, across processes: a
/// reader that has seen `N` never later finds a smaller number appear.
#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// Records a revocation (and deletes what it names) atomically;
    /// returns its sequence number. Revoking twice yields two entries.
    async fn revoke(&self, revocation: &Revocation) -> Result<i64, StoreError>;
    /// Entries with `seq > after`, oldest first, at most `limit`.
    async fn revocations_after(&self, after: i64, limit: u32) -> Result<Vec<RevocationEntry>, StoreError>;
    /// The highest sequence number handed out so far (0 if none), even when
    /// its entry has since been purged.
    async fn revocation_head(&self) -> Result<i64, StoreError>;
}
