//! Storage traits. Every backend (memory, SQLite, later PostgreSQL) implements
//! them and passes the one conformance suite in `tessera-store`.
//!
//! Rules every backend keeps:
//! - a write returns `Ok` only after it is durable (committed);
//! - credentials are stored as [`Digest`]s, never in the clear;
//! - [`Store::config_generation`] changes after every client, key or scope change,
//!   whichever process made it, so caches in a running server never go stale.

pub mod accounts;
pub mod attempts;
pub mod device;

use async_trait::async_trait;

pub use accounts::{
    AccountStore, AuthCode, Consent, Grant, GrantFilter, Redemption, RefreshState, RefreshStore, RefreshToken,
    Rotation, ScopeInfo, Session, User,
};
pub use attempts::AttemptStore;
pub use device::{DeviceCode, DeviceStatus, DeviceStore, Poll};

use crate::client::{Client, ClientSettings};
use crate::secret::{Digest, TokenId, TokenKey};

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// The database did not answer or refused the write.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A row with the same key already exists.
    #[error("already exists")]
    Conflict,
    /// Data in the store could not be read back.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

/// An opaque access token as stored: its digest, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueToken {
    /// SHA-256 of the whole token (what the revocation feed names).
    pub digest: Digest,
    /// Its lookup id; `None` for tokens issued before ids. The row is keyed
    /// by [`TokenKey::stored`].
    pub id: Option<TokenId>,
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

/// How many expired rows a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub tokens: u64,
    pub revocations: u64,
    /// Codes, sessions and grants.
    pub other: u64,
}

#[async_trait]
pub trait Store: AccountStore + RefreshStore + DeviceStore + Send + Sync + 'static {
    // Clients.
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError>;
    async fn get_client(&self, id: &str) -> Result<Option<Client>, StoreError>;
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError>;
    /// Replaces the secret digest; `false` if there is no such client.
    async fn set_client_secret(&self, id: &str, digest: Digest, now: i64) -> Result<bool, StoreError>;
    /// Replaces the settings (`client update`); `false` if there is no such client.
    async fn set_client_settings(&self, id: &str, settings: &ClientSettings, now: i64) -> Result<bool, StoreError>;
    /// `false` if there was no such client.
    async fn delete_client(&self, id: &str) -> Result<bool, StoreError>;

    // Signing keys.
    async fn insert_key(&self, key: &StoredKey) -> Result<(), StoreError>;
    /// Ordered by activation time; keys activating at the same second in the
    /// order they were inserted (the later one signs).
    async fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError>;

    /// A number that changes whenever a client, key or registered scope changes, in this
    /// process or another. Cheap: called on every token request.
    fn config_generation(&self) -> u64;

    /// For a store shared by several server processes (PostgreSQL): a
    /// receiver whose value changes whenever any process records a
    /// revocation, so a node reads the new entries at once instead of
    /// polling. `None` for stores that can only be polled.
    fn revocation_signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// For a store shared by several server processes: sign-in failure
    /// counters every node sees. `None`: counters are kept per process.
    fn shared_attempts(&self) -> Option<&dyn AttemptStore> {
        None
    }

    // Opaque access tokens.
    async fn insert_token(&self, token: &OpaqueToken) -> Result<(), StoreError>;
    /// The token under `key`, unless it was revoked (a revoked token with an
    /// id keeps its row until it expires: its revocation entry names it by
    /// SHA-256 only). The row is found by id; the key is compared with
    /// [`Digest::ct_eq`].
    async fn find_token(&self, key: &TokenKey) -> Result<Option<OpaqueToken>, StoreError>;
    /// A token issued before ids, by its SHA-256.
    async fn get_token(&self, digest: &Digest) -> Result<Option<OpaqueToken>, StoreError> {
        self.find_token(&TokenKey::legacy(*digest)).await
    }

    // Revocations.
    /// Records a revocation (and deletes an opaque token) atomically;
    /// returns its sequence number. Revoking twice yields two entries.
    async fn revoke(&self, revocation: &Revocation) -> Result<i64, StoreError>;
    /// Entries with `seq > after`, oldest first, at most `limit`.
    async fn revocations_after(&self, after: i64, limit: u32) -> Result<Vec<RevocationEntry>, StoreError>;
    /// The highest sequence number handed out so far (0 if none), even when
    /// its entry has since been purged.
    async fn revocation_head(&self) -> Result<i64, StoreError>;

    /// Deletes up to `batch` expired rows of each kind (tokens, revocations,
    /// codes, sessions, grants), in short transactions.
    async fn purge_expired(&self, now: i64, batch: u32) -> Result<Purged, StoreError>;

    // Deployment settings every process must agree on ([`ISSUER_SETTING`]).
    /// The value recorded under `name`, if any.
    async fn get_setting(&self, name: &str) -> Result<Option<String>, StoreError>;
    /// Records `value` under `name`, replacing an earlier one.
    async fn put_setting(&self, name: &str, value: &str) -> Result<(), StoreError>;

    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// The setting under which `tessera serve` records the issuer it serves
/// (RFC 8414 §2), so the CLI mints tokens that server accepts.
pub const ISSUER_SETTING: &str = "issuer";
