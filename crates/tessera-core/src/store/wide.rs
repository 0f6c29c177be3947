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
    /// signal that moves whenever any process records a revocation, so a
    /// node reads the new entries at once instead of polling. `None` for
    /// stores that can only be polled.
    fn revocation_signal(&self) -> Option<RevocationSignal> {
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

/// Moves whenever a revocation is recorded anywhere: a backend that hears of
/// them (PostgreSQL's LISTEN) keeps one and hands out [`RevocationSignal`]s.
#[derive(Debug)]
pub struct RevocationNotifier(tokio::sync::watch::Sender<u64>);

impl Default for RevocationNotifier {
    fn default() -> Self {
        Self(tokio::sync::watch::Sender::new(0))
    }
}

impl RevocationNotifier {
    /// Wakes every signal: a revocation was recorded.
    pub fn notify(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn subscribe(&self) -> RevocationSignal {
        RevocationSignal(self.0.subscribe())
    }
}

/// What [`StoreWide::revocation_signal`] hands out: wakes when a revocation
/// was recorded since the last one seen.
#[derive(Debug)]
pub struct RevocationSignal(tokio::sync::watch::Receiver<u64>);

/// The store's notifier is gone (its listener stopped): poll instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the revocation signal stopped")]
pub struct SignalStopped;

impl RevocationSignal {
    /// Marks everything so far seen: only a later revocation wakes [`Self::changed`].
    pub fn mark_seen(&mut self) {
        self.0.borrow_and_update();
    }

    /// Waits for a revocation not yet seen, and marks it seen.
    pub async fn changed(&mut self) -> Result<(), SignalStopped> {
        self.0.changed().await.map_err(|_| SignalStopped)
    }
}
