//! The replay cache: a proof's `jti` (RFC 9449 §11.1) or a signature's
//! `nonce` (RFC 9421 §7.2.2) is accepted once within the window in which
//! the proof itself would be accepted.
//!
//! The check is a single atomic insert-if-absent ([`ReplayCache::first_use`]),
//! never "look, then insert": two requests carrying the same proof at the
//! same moment must not both pass. The trait is async because the
//! authorization server's cluster-wide cache lives in the database (every
//! node must refuse a proof another node has seen); `tessera-guard` and
//! tests use [`MemoryReplayCache`].
//!
//! # Full means refuse
//! A bounded cache that forgets a live entry to make room opens a replay
//! window: an attacker floods it with fresh proofs, then replays the one it
//! stole. So [`MemoryReplayCache`] evicts only expired entries, and when it
//! is full of live ones it answers [`ReplayError::Full`]: the request is
//! refused (the caller should answer 503), not waved through. Size the
//! capacity for the peak proof rate times the window (e.g. 20,000 proofs/s
//! × 65 s ≈ 1.3 M entries of about 100 bytes each).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// Every slot holds an entry that has not expired yet.
    #[error("replay cache is full of unexpired entries")]
    Full,
    /// The backing store did not answer (a database-backed cache).
    #[error("replay cache unavailable: {0}")]
    Unavailable(String),
}

/// Insert-if-absent with an expiry.
#[async_trait::async_trait]
pub trait ReplayCache: Send + Sync {
    /// `Ok(true)` the first time `key` is seen before `expires_at` (and
    /// records it until then, inclusive); `Ok(false)` for every later use
    /// while the entry lives. Times are Unix seconds; `now` is passed in so
    /// that tests and every node agree on the clock used.
    async fn first_use(&self, key: &[u8], expires_at: i64, now: i64) -> Result<bool, ReplayError>;
}

/// An in-process cache with a hard capacity: expired entries are evicted
/// first (oldest expiry first), live ones never. One lock around a map and
/// a min-heap of expiries: each call is O(log n) amortised.
pub struct MemoryReplayCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    live: HashMap<Box<[u8]>, i64>,
    /// (expires_at, key), soonest first; every key in `live` is here once.
    by_expiry: BinaryHeap<Reverse<(i64, Box<[u8]>)>>,
}

impl std::fmt::Debug for MemoryReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryReplayCache").field("capacity", &self.capacity).field("len", &self.len()).finish()
    }
}

impl MemoryReplayCache {
    /// A cache holding at most `capacity` live entries (at least one).
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), inner: Mutex::new(Entries::default()) }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries held, expired ones not yet evicted included.
    pub fn len(&self) -> usize {
        self.lock().live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The synchronous check behind [`ReplayCache::first_use`].
    pub fn first_use_now(&self, key: &[u8], expires_at: i64, now: i64) -> Result<bool, ReplayError> {
        let mut e = self.lock();
        e.evict_expired(now);
        if e.live.contains_key(key) {
            return Ok(false);
        }
        if expires_at < now {
            // Already outside its window: no later use can be inside it, so
            // there is nothing to remember.
            return Ok(true);
        }
        if e.live.len() >= self.capacity {
            return Err(ReplayError::Full);
        }
        let key: Box<[u8]> = key.into();
        e.live.insert(key.clone(), expires_at);
        e.by_expiry.push(Reverse((expires_at, key)));
        Ok(true)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Nothing panics while the lock is held; a poisoned lock still holds
        // a consistent map, and dropping it would forget live entries.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Entries {
    /// Removes every entry whose expiry is before `now`.
    fn evict_expired(&mut self, now: i64) {
        while let Some(Reverse((expires_at, _))) = self.by_expiry.peek() {
            if *expires_at >= now {
                break;
            }
            if let Some(Reverse((_, key))) = self.by_expiry.pop() {
                self.live.remove(&key);
            }
        }
    }
}

#[async_trait::async_trait]
impl ReplayCache for MemoryReplayCache {
    async fn first_use(&self, key: &[u8], expires_at: i64, now: i64) -> Result<bool, ReplayError> {
        self.first_use_now(key, expires_at, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_use_is_refused_until_expiry() {
        let c = MemoryReplayCache::new(10);
        assert_eq!(c.first_use_now(b"a", 100, 40), Ok(true));
        assert_eq!(c.first_use_now(b"a", 100, 41), Ok(false));
        assert_eq!(c.first_use_now(b"a", 200, 100), Ok(false), "live through its expiry second");
        assert_eq!(c.first_use_now(b"b", 100, 41), Ok(true));
        assert_eq!(c.first_use_now(b"a", 300, 101), Ok(true), "expired, so a new entry");
        assert_eq!(c.len(), 1, "b was evicted with the old a");
    }

    #[test]
    fn full_of_live_entries_refuses_and_forgets_nothing() {
        let c = MemoryReplayCache::new(2);
        assert_eq!(c.first_use_now(b"a", 100, 0), Ok(true));
        assert_eq!(c.first_use_now(b"b", 50, 0), Ok(true));
        assert_eq!(c.first_use_now(b"c", 100, 10), Err(ReplayError::Full));
        assert_eq!(c.first_use_now(b"a", 100, 10), Ok(false), "a live entry is still known when full");
        assert_eq!(c.first_use_now(b"b", 100, 10), Ok(false));
        // b expires: its slot is reused, a stays.
        assert_eq!(c.first_use_now(b"c", 100, 51), Ok(true));
        assert_eq!(c.first_use_now(b"a", 100, 51), Ok(false));
        assert_eq!(c.first_use_now(b"b", 100, 51), Err(ReplayError::Full), "b is forgotten only because it expired");
    }

    #[test]
    fn an_entry_past_its_expiry_is_not_stored() {
        let c = MemoryReplayCache::new(1);
        assert_eq!(c.first_use_now(b"old", 5, 10), Ok(true));
        assert!(c.is_empty());
        assert_eq!(MemoryReplayCache::new(0).capacity(), 1);
    }
}
