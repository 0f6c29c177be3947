//! [`Revocations`]: what this process knows is revoked (RFC 7009, and
//! Tessera's revocation feed): the revoked set followed from the store by
//! sequence number, recording a revocation so it takes effect here before
//! the answer, whole grants (RFC 9700 §4.14), the opaque-token lookup cache
//! that revocations invalidate, and the feed head that long-polls wait on
//! ([`FeedWatch`]).

use std::sync::Arc;

use crate::cache::RevokedSet;
use crate::client::MAX_ACCESS_TOKEN_TTL;
use crate::clock::Clock;
use crate::error::OAuthError;
use crate::ids::ClientId;
use crate::secret::{Digest, TokenKey};
use crate::store::{OpaqueToken, Purged, Revocation, RevokedToken, Store, StoreError};
use crate::token::TokenFacts;

pub struct Revocations {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    revoked: RevokedSet,
    /// Opaque tokens found active, by digest; a revocation removes its entry.
    opaque_cache: moka::sync::Cache<Digest, Arc<OpaqueToken>>,
    /// The highest revocation sequence number this process knows of; the
    /// revocation feed's long-polls wait on it.
    feed_head: tokio::sync::watch::Sender<i64>,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations").field("known", &self.revoked.len()).finish_non_exhaustive()
    }
}

/// Wakes a revocation-feed reader whenever the feed's head moves (a
/// revocation recorded here, or seen from another process).
#[derive(Debug)]
pub struct FeedWatch(tokio::sync::watch::Receiver<i64>);

impl FeedWatch {
    /// The head as of now; marks it seen, so a move after this call wakes
    /// the next [`Self::changed`].
    pub fn head(&mut self) -> i64 {
        *self.0.borrow_and_update()
    }

    /// Waits until the head moves past the last one seen. Never returns
    /// while nothing moves (the sender lives as long as the server).
    pub async fn changed(&mut self) {
        if self.0.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Revocations {
    /// Empty; [`Self::sync`] reads what the store already holds.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, opaque_cache_capacity: u64) -> Self {
        Self {
            store,
            clock,
            revoked: RevokedSet::default(),
            opaque_cache: moka::sync::Cache::builder().max_capacity(opaque_cache_capacity).build(),
            feed_head: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Applies revocations recorded since the last call (by this process or
    /// another) to the in-memory set and caches.
    pub async fn sync(&self) -> Result<(), StoreError> {
        loop {
            let batch = self.store.revocations_after(self.revoked.last_seq(), 10_000).await?;
            let Some(last) = batch.last() else {
                return Ok(());
            };
            self.advance_feed(last.seq);
            for d in self.revoked.apply(&batch) {
                self.opaque_cache.invalidate(&d);
            }
        }
    }

    /// Stores a revocation and applies it in this process at once: the
    /// success answer must not come before the token stops working here,
    /// and long-polling feed readers wake up now rather than at the next sync.
    pub async fn record(&self, r: &Revocation) -> Result<i64, OAuthError> {
        let seq = self.store.revoke(r).await?;
        self.revoked.insert(r.token.clone(), r.expires_at, r.revoked_at);
        if let RevokedToken::Opaque(d) = &r.token {
            self.opaque_cache.invalidate(d);
        }
        self.advance_feed(seq);
        Ok(seq)
    }

    /// Revokes every token of a grant at once and forgets the grant; the
    /// entry stays in the revocation feed until any token could have expired.
    pub async fn revoke_grant(&self, grant_id: &str, client_id: &ClientId) -> Result<(), OAuthError> {
        let now = self.clock.now();
        let expires_at = now + MAX_ACCESS_TOKEN_TTL as i64;
        let token = RevokedToken::Grant(grant_id.to_string());
        let r = Revocation { token, client_id: client_id.to_string(), expires_at, revoked_at: now };
        self.record(&r).await?;
        Ok(())
    }

    pub fn contains(&self, t: &RevokedToken) -> bool {
        self.revoked.contains(t)
    }

    /// Its grant was revoked, or its client deleted after it was issued (a
    /// client re-created under the same id must not revive those tokens).
    pub fn with_grant_or_client(&self, f: &TokenFacts) -> bool {
        f.grant_id.as_ref().is_some_and(|g| self.revoked.contains(&RevokedToken::Grant(g.clone())))
            || self.revoked.client_revoked(f.client_id.as_str(), f.issued_at)
    }

    /// An opaque token by its key, from memory (by SHA-256) when it was
    /// found active before. The flag says whether it came from the cache.
    pub(crate) async fn opaque(&self, key: &TokenKey) -> Result<Option<(Arc<OpaqueToken>, bool)>, StoreError> {
        if let Some(r) = self.opaque_cache.get(&key.sha256) {
            return Ok(Some((r, true)));
        }
        Ok(self.store.find_token(key).await?.map(|r| (Arc::new(r), false)))
    }

    /// Remembers an opaque token found active.
    pub(crate) fn remember_opaque(&self, digest: Digest, record: Arc<OpaqueToken>) {
        self.opaque_cache.insert(digest, record);
    }

    fn advance_feed(&self, seq: i64) {
        self.feed_head.send_if_modified(|h| {
            let moved = seq > *h;
            *h = (*h).max(seq);
            moved
        });
    }

    /// Changes whenever a revocation is recorded here or seen from elsewhere.
    pub fn feed_watch(&self) -> FeedWatch {
        FeedWatch(self.feed_head.subscribe())
    }

    /// Deletes expired tokens and revocation entries; a background task calls
    /// this until it returns less than a full batch.
    pub async fn purge_expired(&self, batch: u32) -> Result<Purged, StoreError> {
        let now = self.clock.now();
        self.revoked.forget_expired(now);
        self.store.purge_expired(now, batch).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn feed_watch_wakes_when_the_head_moves_and_not_before() {
        let head = tokio::sync::watch::Sender::new(0);
        let mut w = FeedWatch(head.subscribe());
        assert_eq!(w.head(), 0);
        let idle = tokio::time::timeout(Duration::from_millis(20), w.changed()).await;
        assert!(idle.is_err(), "woke with nothing recorded");
        head.send_replace(7);
        let moved = tokio::time::timeout(Duration::from_secs(1), w.changed()).await;
        assert!(moved.is_ok(), "a move must wake the reader");
        assert_eq!(w.head(), 7);
        // A move between the read and the wait is not lost.
        head.send_replace(9);
        assert!(tokio::time::timeout(Duration::from_secs(1), w.changed()).await.is_ok());
        drop(head);
        let gone = tokio::time::timeout(Duration::from_millis(20), w.changed()).await;
        assert!(gone.is_err(), "a dropped sender must not spin the reader");
    }
}
