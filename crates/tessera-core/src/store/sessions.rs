//! Signed-in browsers: the cookie holds a secret, the store its digest only.

use async_trait::async_trait;

use super::StoreError;
use crate::amr::AmrSet;
use crate::ids::UserId;
use crate::secret::Digest;

/// A signed-in browser. The cookie holds a secret whose digest is `digest`;
/// `id` is public (the ID token's `sid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub digest: Digest,
    pub user_id: UserId,
    pub auth_time: i64,
    /// RFC 8176 method references; stored space-separated (`pwd`).
    pub amr: AmrSet,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Browser sessions.
///
/// Atomicity: each call is one statement, committed before `Ok`. A session
/// deleted (sign-out, a user disabled) is never returned afterwards, on any
/// node. Expired sessions are returned until purged: callers check
/// `expires_at`.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// [`StoreError::Conflict`] if the digest is taken.
    async fn insert_session(&self, session: &Session) -> Result<(), StoreError>;
    async fn get_session(&self, digest: &Digest) -> Result<Option<Session>, StoreError>;
    /// `false` if there was no such session.
    async fn delete_session(&self, digest: &Digest) -> Result<bool, StoreError>;
    /// Oldest first.
    async fn list_sessions(&self, user_id: &UserId) -> Result<Vec<Session>, StoreError>;
    /// How many were deleted.
    async fn delete_user_sessions(&self, user_id: &UserId) -> Result<u64, StoreError>;
}
