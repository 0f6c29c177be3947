//! Conformance cases for [`AttemptStore`]: shared sign-in counters swap
//! atomically, so of many nodes counting one account at once each count
//! lands exactly once, and the window's end purges them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use tessera_core::store::Store;
use tessera_core::throttle::{self, Count, FREE_FAILURES, WINDOW};

pub async fn shared_attempts_swap_atomically(s: Arc<dyn Store>) {
    let Some(a) = s.shared_attempts() else { return }; // per-process counters (SQLite)
    let c1 = Count { failures: 1, first: 100, last: 100 };
    assert_eq!(a.get_attempts("user:alice").await.unwrap(), None);
    assert!(a.swap_attempts("user:alice", None, Some(c1)).await.unwrap());
    assert!(!a.swap_attempts("user:alice", None, Some(c1)).await.unwrap(), "already present");
    let c2 = Count { failures: 2, first: 100, last: 101 };
    assert!(!a.swap_attempts("user:alice", Some(c2), Some(c1)).await.unwrap(), "stale expectation");
    assert!(a.swap_attempts("user:alice", Some(c1), Some(c2)).await.unwrap());
    assert_eq!(a.get_attempts("user:alice").await.unwrap(), Some(c2));
    assert!(!a.swap_attempts("user:alice", Some(c1), None).await.unwrap());
    assert!(a.swap_attempts("user:alice", Some(c2), None).await.unwrap());
    assert_eq!(a.get_attempts("user:alice").await.unwrap(), None);

    // 32 concurrent attempts at one account, each admitted by compare-and-swap:
    // exactly the free failures get through, whatever the interleaving.
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let a = s.shared_attempts().unwrap();
            loop {
                let cur = a.get_attempts("user:bob").await.unwrap();
                let Ok(next) = throttle::admit(cur, 500) else { return false };
                if a.swap_attempts("user:bob", cur, Some(next)).await.unwrap() {
                    return true;
                }
            }
        }));
    }
    let mut admitted = 0;
    for t in tasks {
        admitted += usize::from(t.await.unwrap());
    }
    assert_eq!(admitted, FREE_FAILURES as usize);
    assert_eq!(a.get_attempts("user:bob").await.unwrap().map(|c| c.failures), Some(FREE_FAILURES));

    // Counters whose window has passed are purged.
    s.purge_expired(500 + WINDOW - 1, 100).await.unwrap();
    assert!(a.get_attempts("user:bob").await.unwrap().is_some());
    s.purge_expired(500 + WINDOW, 100).await.unwrap();
    assert_eq!(a.get_attempts("user:bob").await.unwrap(), None);
}
