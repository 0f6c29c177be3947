//! Conformance cases for DPoP storage: the cluster-wide replay cache
//! ([`ReplayStore`]) uses a key exactly once until it expires, however
//! many callers race, and the purge drops only expired entries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use tessera_core::store::Store;

fn key(n: u8) -> [u8; 32] {
    [n; 32]
}

pub async fn replays_first_use_once_until_expiry(s: Arc<dyn Store>) {
    assert!(s.first_use(&key(1), 100, 40).await.unwrap(), "first use wins");
    assert!(!s.first_use(&key(1), 100, 41).await.unwrap(), "second use refused");
    assert!(!s.first_use(&key(1), 200, 100).await.unwrap(), "live through its expiry second");
    assert!(s.first_use(&key(2), 100, 41).await.unwrap(), "another key is independent");
    assert!(s.first_use(&key(1), 300, 101).await.unwrap(), "an expired key may be used again");
    assert!(!s.first_use(&key(1), 300, 102).await.unwrap(), "once: it now lives until 300");
    assert!(!s.first_use(&key(1), 400, 300).await.unwrap());
}

/// How many of 200 concurrent uses of one key won.
async fn race(s: &Arc<dyn Store>, k: [u8; 32], expires_at: i64, now: i64) -> usize {
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.first_use(&k, expires_at, now).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    won
}

pub async fn concurrent_replays_exactly_one(s: Arc<dyn Store>) {
    assert_eq!(race(&s, key(7), 1000, 500).await, 1, "of 200 concurrent uses of one key exactly one wins");
    assert_eq!(race(&s, key(7), 2000, 1001).await, 1, "of 200 concurrent reuses of an expired key exactly one wins");
}

pub async fn replay_purge_removes_only_expired(s: Arc<dyn Store>) {
    assert!(s.first_use(&key(1), 100, 0).await.unwrap());
    assert!(s.first_use(&key(2), 200, 0).await.unwrap());
    assert!(s.first_use(&key(3), 200, 0).await.unwrap());
    assert_eq!(s.purge_expired(100, 100).await.unwrap().other, 0, "nothing has expired at 100");
    assert_eq!(s.purge_expired(150, 100).await.unwrap().other, 1, "only key 1 has expired");
    assert_eq!(s.purge_expired(200, 100).await.unwrap().other, 0, "keys 2 and 3 live through 200");
    assert!(!s.first_use(&key(2), 300, 200).await.unwrap(), "the purge kept live entries");
    // Bounded batches: two expired entries, one per purge.
    assert_eq!(s.purge_expired(201, 1).await.unwrap().other, 1);
    assert_eq!(s.purge_expired(201, 1).await.unwrap().other, 1);
    assert_eq!(s.purge_expired(201, 1).await.unwrap().other, 0);
}
