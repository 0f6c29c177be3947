//! Remembered consent (OpenID Connect Core §3.1.2.4): what a user allowed a
//! client, so they are asked once.

use async_trait::async_trait;

use super::StoreError;
use crate::ids::{ClientId, UserId};
use crate::scope::ScopeSet;

/// What a user allowed a client, remembered so they are asked once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub user_id: UserId,
    pub client_id: ClientId,
    /// Every scope the user allowed this client so far, within what the
    /// client may ask for (so never more than [`crate::scope::MAX_SCOPES`]);
    /// parsed when the row is read.
    pub scope: ScopeSet,
    pub granted_at: i64,
}

/// Remembered consent, one row per user and client.
///
/// Atomicity: [`ConsentStore::put_consent`] is one upsert, committed before
/// `Ok`; of concurrent puts for one user and client the last to commit wins.
/// Consents go with their user or client.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// Records `consent`, replacing an earlier one for the same user and client.
    async fn put_consent(&self, consent: &Consent) -> Result<(), StoreError>;
    async fn get_consent(&self, user_id: &UserId, client_id: &ClientId) -> Result<Option<Consent>, StoreError>;
}
