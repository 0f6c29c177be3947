//! Grants: one authorization of a client by a user; every token issued from
//! it carries its id, so revoking the grant revokes them all.

use async_trait::async_trait;

use super::StoreError;
use crate::ids::{ClientId, UserId};
use crate::scope::ScopeSet;

/// One authorization of a client by a user: every token issued from it
/// carries its id, so revoking the grant revokes them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub user_id: UserId,
    pub client_id: ClientId,
    /// Parsed when the row is read; stored as the scope string.
    pub scope: ScopeSet,
    pub session_id: Option<String>,
    pub created_at: i64,
    /// After this no token of the grant can be valid; then it is purged.
    pub expires_at: i64,
}

/// Filters for [`GrantStore::list_grants`].
#[derive(Debug, Clone, Default)]
pub struct GrantFilter {
    pub user_id: Option<UserId>,
    pub client_id: Option<ClientId>,
}

/// Grants. A code redemption or a device poll stores its grant itself (see
/// [`super::CodeStore`], [`super::DeviceStore`]); grants end through
/// [`super::RevocationStore::revoke`] of [`super::RevokedToken::Grant`], which
/// deletes the grant, its opaque tokens and its refresh tokens in the commit
/// that enters it in the feed.
///
/// Atomicity: an insert is one commit, answered after it.
#[async_trait]
pub trait GrantStore: Send + Sync {
    /// A grant made without a code (the implicit grant).
    async fn insert_grant(&self, grant: &Grant) -> Result<(), StoreError>;
    async fn get_grant(&self, id: &str) -> Result<Option<Grant>, StoreError>;
    /// Oldest first.
    async fn list_grants(&self, filter: &GrantFilter) -> Result<Vec<Grant>, StoreError>;
}
