//! The scope registry (RFC 6749 §3.3): the scopes a deployment offers and
//! the sentence the consent page shows for each.

use async_trait::async_trait;

use super::StoreError;

/// A registered scope and the sentence the consent page shows for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeInfo {
    pub name: String,
    pub description: String,
    pub created_at: i64,
}

/// Registered scopes.
///
/// Atomicity: each write is one commit, returns `Ok` only after it and moves
/// [`super::StoreWide::config_generation`] (discovery and the consent page
/// are cached).
#[async_trait]
pub trait ScopeStore: Send + Sync {
    /// [`StoreError::Conflict`] if the name is taken.
    async fn insert_scope(&self, scope: &ScopeInfo) -> Result<(), StoreError>;
    /// Ordered by name.
    async fn list_scopes(&self) -> Result<Vec<ScopeInfo>, StoreError>;
    /// `false` if there was no such scope.
    async fn delete_scope(&self, name: &str) -> Result<bool, StoreError>;
}
