//! What concerns the whole store rather than one kind of record: the
//! configuration generation, cross-process signals, expiry and health.

use async_trait::async_trait;

use super::{AttemptStore, StoreError};

/// How many expired rows a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub tokens: u64,
    pub revocations: u64,
    /// Codes, sessions and grants.
    pub other: u64,
}

/// Store-wide facts and upkeep.
///
/// Atomicity: [`StoreWide::purge_expired`] runs short transactions, each
/// committed on its own; a crash between two leaves only unexpired rows and
/// rows the next purge takes. On a shared database one process purges at a
/// time. Purging never removes a row that is not yet expired.
#[async_trait]
pub trait StoreWide: Send + Sync {
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

    /// Deletes up to `batch` expired rows of each kind (tokens, revocations,
    /// codes, sessions, grants, refresh tokens, device codes), in short transactions.
    async fn purge_expired(&self, now: i64, batch: u32) -> Result<Purged, StoreError>;

    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}
