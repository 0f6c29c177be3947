//! The replay cache of proofs of possession (a DPoP proof's `jti`, RFC 9449
//! §11.1; a signature's `nonce`, RFC 9421 §7.2.2) kept in the store, so that
//! every node of a cluster refuses a proof another node has already seen.
//! The rule (which key, how long) stays in `tessera-pop`; a store only
//! remembers keys until they expire. [`StoreReplayCache`] hands a store
//! to `tessera-pop` as its [`ReplayCache`].

use std::sync::Arc;

use async_trait::async_trait;
use tessera_pop::replay::{ReplayCache, ReplayError};

use super::{Store, StoreError};
use crate::secret::Digest;

/// Insert-if-absent with an expiry, by a 32-byte key (a digest of the
/// proof's identity, never the proof).
///
/// Atomicity: [`ReplayStore::first_use`] is one atomic step, never "look,
/// then insert": of any number of concurrent calls with one key, across
/// processes, exactly one gets `true` while the entry lives. An entry lives
/// through its `expires_at` second (inclusive); after it (`expires_at < now`)
/// the key may be used again, once. A `true` is answered only after the
/// entry is committed. Expired entries leave with
/// [`super::StoreWide::purge_expired`].
#[async_trait]
pub trait ReplayStore: Send + Sync {
    /// `Ok(true)` the first time `key` is seen while no live entry holds it
    /// (and records it until `expires_at`); `Ok(false)` for every later use
    /// until then. Times are Unix seconds; `now` is passed in so every node
    /// and test agree on the clock used.
    async fn first_use(&self, key: &[u8; 32], expires_at: i64, now: i64) -> Result<bool, StoreError>;
}

/// A store as `tessera-pop`'s replay cache, so a proof seen on one node is
/// refused on every other. A store that cannot answer becomes
/// [`ReplayError::Unavailable`]: the proof is refused with 503
/// `temporarily_unavailable`, never waved through.
#[derive(Clone)]
pub struct StoreReplayCache(pub Arc<dyn Store>);

impl std::fmt::Debug for StoreReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreReplayCache")
    }
}

impl StoreReplayCache {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self(store)
    }
}

/// The 32-byte key stored for `key`: `tessera-pop`'s replay keys are
/// already SHA-256 digests and are kept as they are; any other length is
/// hashed to one.
fn stored_key(key: &[u8]) -> [u8; 32] {
    <[u8; 32]>::try_from(key).unwrap_or_else(|_| Digest::of(key).0)
}

/// Every store failure means "cannot answer now" to a replay check.
fn unavailable(e: StoreError) -> ReplayError {
    ReplayError::Unavailable(e.to_string())
}

#[async_trait]
impl ReplayCache for StoreReplayCache {
    async fn first_use(&self, key: &[u8], expires_at: i64, now: i64) -> Result<bool, ReplayError> {
        self.0.first_use(&stored_key(key), expires_at, now).await.map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use tessera_pop::dpop::DpopError;

    use super::*;
    use crate::store::memory::MemoryStore;

    fn cache() -> StoreReplayCache {
        StoreReplayCache::new(Arc::new(MemoryStore::new()))
    }

    #[tokio::test]
    async fn a_key_is_used_once_until_it_expires() {
        let c = cache();
        let k = [3u8; 32];
        assert_eq!(c.first_use(&k, 100, 40).await, Ok(true));
        assert_eq!(c.first_use(&k, 100, 41).await, Ok(false), "replayed");
        assert_eq!(c.first_use(&k, 100, 100).await, Ok(false), "live through its expiry second");
        assert_eq!(c.first_use(&k, 200, 101).await, Ok(true), "expired: a new entry");
    }

    #[tokio::test]
    async fn keys_of_other_lengths_are_hashed_and_still_single_use() {
        let c = cache();
        assert_eq!(c.first_use(b"short", 100, 0).await, Ok(true));
        assert_eq!(c.first_use(b"short", 100, 1).await, Ok(false));
        assert_eq!(c.first_use(b"other", 100, 1).await, Ok(true));
        assert_eq!(c.first_use(&[7u8; 33], 100, 1).await, Ok(true));
        assert_eq!(c.first_use(&[7u8; 33], 100, 2).await, Ok(false));
        // A 32-byte key is the stored key itself: the store sees the same entry.
        assert_eq!(c.0.first_use(&[7u8; 32], 100, 2).await, Ok(true));
        assert_eq!(c.first_use(&[7u8; 32], 100, 3).await, Ok(false));
    }

    #[test]
    fn a_store_that_cannot_answer_is_a_503_not_a_pass() {
        for e in [StoreError::Unavailable("db down".into()), StoreError::Corrupt("x".into()), StoreError::Conflict] {
            let mapped = unavailable(e.clone());
            assert_eq!(mapped, ReplayError::Unavailable(e.to_string()));
            let refused = DpopError::from(mapped);
            assert_eq!(refused.error_code(), "temporarily_unavailable");
        }
    }
}
