//! The replay cache of proofs of possession (a DPoP proof's `jti`, RFC 9449
//! §11.1; a signature's `nonce`, RFC 9421 §7.2.2) kept in the store, so that
//! every node of a cluster refuses a proof another node has already seen.
//! The rule (which key, how long) stays in `tessera-pop`; a store only
//! remembers keys until they expire.

use async_trait::async_trait;

use super::StoreError;

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
