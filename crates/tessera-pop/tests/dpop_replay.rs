//! The replay cache under concurrency: of many simultaneous uses of one
//! key, exactly one is the first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use tessera_pop::replay::{MemoryReplayCache, ReplayCache, ReplayError};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_1000_concurrent_uses_of_one_jti_exactly_one_wins() {
    let cache: Arc<dyn ReplayCache> = Arc::new(MemoryReplayCache::new(10_000));
    let start = Arc::new(tokio::sync::Barrier::new(1000));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (cache, start) = (cache.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                cache.first_use(b"same-jti", 1_000, 900).await
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        if t.await.unwrap().unwrap() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn distinct_keys_all_win_until_the_capacity_is_reached() {
    let cache = Arc::new(MemoryReplayCache::new(500));
    let tasks: Vec<_> = (0..1000u32)
        .map(|i| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.first_use(&i.to_be_bytes(), 1_000, 900).await })
        })
        .collect();
    let (mut wins, mut full) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(true) => wins += 1,
            Err(ReplayError::Full) => full += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((wins, full), (500, 500));
    assert_eq!(cache.len(), 500);
    // Once they expire, room is made again.
    assert_eq!(cache.first_use(b"new", 2_000, 1_001).await, Ok(true));
    assert_eq!(cache.len(), 1);
}
