//! Background work of a running server: following revocations recorded by
//! other processes or nodes, purging expired rows in small batches
//! (several nodes may purge at once: the store makes that safe), and
//! forgetting rate-limit keys whose budget is full again.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::Authority;
use tessera_core::error::chain;
use tokio::task::JoinHandle;

use crate::http::rate_limit::Limits;

/// Rows one purge statement deletes; small enough never to hold the write lock long.
const PURGE_BATCH: u32 = 1_000;

pub fn spawn(authority: Arc<Authority>, limits: Arc<Limits>, purge_interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        // A shared store (PostgreSQL) announces revocations from every node:
        // they are read at once, and the poll is only a backstop for a lost
        // notification. A local store is polled: revocations made by other
        // processes (the CLI) reach feed readers within this interval.
        let mut signal = authority.store().revocation_signal();
        let every = if signal.is_some() { Duration::from_secs(1) } else { Duration::from_millis(250) };
        let mut sync = tokio::time::interval(every);
        let mut purge = tokio::time::interval(purge_interval);
        let mut upkeep = tokio::time::interval(crate::http::rate_limit::UPKEEP_EVERY);
        sync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        purge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = sync.tick() => sync_revocations(&authority).await,
                changed = async {
                    match signal.as_mut() {
                        Some(rx) => rx.changed().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if changed.is_err() {
                        // The store's listener is gone: fall back to polling.
                        signal = None;
                    }
                    sync_revocations(&authority).await;
                }
                _ = purge.tick() => purge_all(&authority).await,
                _ = upkeep.tick() => limits.upkeep(),
            }
        }
    })
}

async fn sync_revocations(authority: &Authority) {
    if let Err(e) = authority.sync_revocations().await {
        tracing::warn!(error = %chain(&e), "could not read new revocations");
    }
}

async fn purge_all(authority: &Authority) {
    loop {
        match authority.purge_expired(PURGE_BATCH).await {
            Ok(p) => {
                if p.tokens > 0 || p.revocations > 0 {
                    tracing::debug!(tokens = p.tokens, revocations = p.revocations, "purged expired rows");
                }
                if p.tokens < u64::from(PURGE_BATCH) && p.revocations < u64::from(PURGE_BATCH) {
                    return;
                }
                tokio::task::yield_now().await;
            }
            Err(e) => {
                tracing::warn!(error = %chain(&e), "purge failed; will retry");
                return;
            }
        }
    }
}
