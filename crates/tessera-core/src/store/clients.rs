//! Registered clients (RFC 6749 §2; RFC 7591 metadata in [`ClientSettings`]).

use async_trait::async_trait;

use super::StoreError;
use crate::client::{Client, ClientSettings};
use crate::ids::ClientId;
use crate::secret::Digest;

/// Client registrations.
///
/// Atomicity: each call is one transaction and returns `Ok` only after it
/// committed. Every successful write moves [`super::StoreWide::config_generation`]
/// (in this process at once, in others as soon as they can see it), so no
/// node keeps serving a stale client from its cache. Deleting a client also
/// deletes its grants, refresh tokens, device codes, consents and codes in
/// the same commit.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// [`StoreError::Conflict`] if the id is taken.
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError>;
    async fn get_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError>;
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError>;
    /// Replaces the secret digest; `false` if there is no such client.
    async fn set_client_secret(&self, id: &ClientId, digest: Digest, now: i64) -> Result<bool, StoreError>;
    /// Replaces the settings (`client update`); `false` if there is no such client.
    async fn set_client_settings(&self, id: &ClientId, settings: &ClientSettings, now: i64)
    -> Result<bool, StoreError>;
    /// `false` if there was no such client.
    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError>;
}
