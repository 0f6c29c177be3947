//! Caches on the hot paths, each with a rule that keeps it exact:
//! - [`ClientCache`]: emptied whenever [`StoreWide::config_generation`](crate::store::StoreWide::config_generation) moves,
//!   and a lookup that raced with a change is never inserted; unknown ids
//!   are remembered too, so a made-up `client_id` costs one query, not one
//!   per request, and answers as fast as a wrong secret;
//! - [`ConfigCache`]: what unauthenticated endpoints need of the whole
//!   configuration (CORS origins, discovery, the consent page's scope
//!   sentences), reloaded once per generation, one reload at a time;
//! - [`RevokedSet`]: revoked tokens, followed from the store's revocation
//!   entries by sequence number, so no entry is missed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use crate::client::Client;
use crate::ids::ClientId;
use crate::store::{RevocationEntry, RevokedToken, ScopeInfo, Store, StoreError};

/// Beyond this many clients the cache starts over rather than grow.
const MAX_CACHED_CLIENTS: usize = 100_000;
/// Unknown ids remembered; past it they start over, known clients stay.
const MAX_UNKNOWN_CLIENTS: usize = 10_000;

/// Clients known at one generation, and ids known not to exist.
#[derive(Debug, Default)]
struct Known {
    generation: u64,
    clients: HashMap<ClientId, Arc<Client>>,
    unknown: HashSet<ClientId>,
}

#[derive(Debug, Default)]
pub struct ClientCache {
    inner: RwLock<Known>,
}

impl ClientCache {
    /// `generation`: [`StoreWide::config_generation`](crate::store::StoreWide::config_generation), read by the caller first.
    pub async fn get(&self, store: &dyn Store, generation: u64, id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        if let Ok(r) = self.inner.read()
            && r.generation == generation
        {
            if let Some(c) = r.clients.get(id) {
                return Ok(Some(c.clone()));
            }
            if r.unknown.contains(id) {
                return Ok(None);
            }
        }
        let id = ClientId::from(id);
        let client = store.get_client(&id).await?.map(Arc::new);
        if let Ok(mut w) = self.inner.write() {
            if w.generation < generation || w.clients.len() >= MAX_CACHED_CLIENTS {
                w.clients.clear();
                w.unknown.clear();
                w.generation = w.generation.max(generation);
            }
            if w.unknown.len() >= MAX_UNKNOWN_CLIENTS {
                w.unknown.clear();
            }
            // Only a lookup that began at the current generation may fill it.
            if w.generation == generation {
                if let Some(c) = &client {
                    w.clients.insert(id, c.clone());
                } else {
                    w.unknown.insert(id);
                }
            }
        }
        Ok(client)
    }
}

/// What unauthenticated endpoints read about the configuration as a whole.
#[derive(Debug, Default)]
pub struct ConfigView {
    /// Every origin some client registered (CORS).
    pub origins: HashSet<String>,
    /// Whether any client may use the implicit grant (discovery).
    pub implicit: bool,
    /// The scope registry, by name.
    pub scopes: Vec<ScopeInfo>,
}

#[derive(Debug, Default)]
pub struct ConfigCache {
    current: RwLock<Option<(u64, Arc<ConfigView>)>>,
    /// One reload at a time: a burst after a change costs one table read.
    reload: tokio::sync::Mutex<()>,
}

impl ConfigCache {
    /// The view as of `generation` ([`StoreWide::config_generation`](crate::store::StoreWide::config_generation), read by the
    /// caller first) or later.
    pub async fn get(&self, store: &dyn Store, generation: u64) -> Result<Arc<ConfigView>, StoreError> {
        if let Some(v) = self.fresh(generation) {
            return Ok(v);
        }
        let _one = self.reload.lock().await;
        if let Some(v) = self.fresh(generation) {
            return Ok(v);
        }
        let clients = store.list_clients().await?;
        let view = Arc::new(ConfigView {
            origins: clients.iter().flat_map(|c| c.settings.allowed_origins.iter().cloned()).collect(),
            implicit: clients.iter().any(|c| c.settings.allow_implicit),
            scopes: store.list_scopes().await?,
        });
        if let Ok(mut w) = self.current.write()
            && w.as_ref().is_none_or(|(g, _)| *g <= generation)
        {
            *w = Some((generation, view.clone()));
        }
        Ok(view)
    }

    fn fresh(&self, generation: u64) -> Option<Arc<ConfigView>> {
        let r = self.current.read().ok()?;
        r.as_ref().filter(|(g, _)| *g >= generation).map(|(_, v)| v.clone())
    }
}

/// Revoked tokens with their expiry, and the last sequence number applied.
/// Opaque tokens are listed too: a lookup that raced with their deletion
/// must still see them as revoked.
#[derive(Debug, Default)]
pub struct RevokedSet {
    /// Last applied sequence number, and the entries.
    inner: RwLock<(i64, Entries)>,
}

/// Per revoked token: (expires_at, revoked_at).
type Entries = HashMap<RevokedToken, (i64, i64)>;

impl RevokedSet {
    /// A poisoned lock answers "revoked": fail closed.
    pub fn contains(&self, t: &RevokedToken) -> bool {
        self.inner.read().map(|r| r.1.contains_key(t)).unwrap_or(true)
    }

    /// Whether a token of `client` issued at `issued_at` is covered by a
    /// client revocation (the client was deleted at or after that second).
    /// A client re-created later under the same id keeps its new tokens.
    pub fn client_revoked(&self, client: &str, issued_at: i64) -> bool {
        self.inner
            .read()
            .map(|r| r.1.get(&RevokedToken::Client(client.to_string())).is_some_and(|(_, at)| issued_at <= *at))
            .unwrap_or(true)
    }

    pub fn last_seq(&self) -> i64 {
        self.inner.read().map(|r| r.0).unwrap_or(0)
    }

    /// Applies entries in order; returns the opaque digests among them so the
    /// caller can drop them from its own caches.
    pub fn apply(&self, entries: &[RevocationEntry]) -> Vec<crate::secret::Digest> {
        let mut opaque = Vec::new();
        if let Ok(mut w) = self.inner.write() {
            for e in entries {
                if let RevokedToken::Opaque(d) = &e.revocation.token {
                    opaque.push(*d);
                }
                merge(&mut w.1, e.revocation.token.clone(), e.revocation.expires_at, e.revocation.revoked_at);
                w.0 = w.0.max(e.seq);
            }
        }
        opaque
    }

    /// Marks a token revoked right away (before the feed catches up).
    pub fn insert(&self, t: RevokedToken, expires_at: i64, revoked_at: i64) {
        if let Ok(mut w) = self.inner.write() {
            merge(&mut w.1, t, expires_at, revoked_at);
        }
    }

    /// Forgets entries whose tokens have expired: they fail on `exp` anyway.
    pub fn forget_expired(&self, now: i64) {
        if let Ok(mut w) = self.inner.write() {
            w.1.retain(|_, (exp, _)| *exp > now);
        }
    }

    pub fn len(&self) -> usize {
        self.inner.read().map(|r| r.1.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A token revoked twice (a client deleted, re-created and deleted again)
/// keeps the later revocation time and the later expiry.
fn merge(map: &mut Entries, t: RevokedToken, expires_at: i64, revoked_at: i64) {
    let e = map.entry(t).or_insert((expires_at, revoked_at));
    e.0 = e.0.max(expires_at);
    e.1 = e.1.max(revoked_at);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Revocation;

    fn client_entry(seq: i64, revoked_at: i64) -> RevocationEntry {
        RevocationEntry {
            seq,
            revocation: Revocation {
                token: RevokedToken::Client("app".into()),
                client_id: "app".into(),
                expires_at: revoked_at + 86_400,
                revoked_at,
            },
        }
    }

    #[test]
    fn a_client_revocation_covers_tokens_issued_up_to_it() {
        let set = RevokedSet::default();
        set.apply(&[client_entry(1, 1_000)]);
        assert!(set.client_revoked("app", 900) && set.client_revoked("app", 1_000));
        assert!(!set.client_revoked("app", 1_001), "a later client with the same id keeps its tokens");
        assert!(!set.client_revoked("other", 900));
        // Deleted again later: the later time wins, whatever the order seen.
        set.insert(RevokedToken::Client("app".into()), 90_000, 2_000);
        set.apply(&[client_entry(2, 1_500)]);
        assert!(set.client_revoked("app", 2_000) && !set.client_revoked("app", 2_001));
        assert_eq!(set.last_seq(), 2);
        set.forget_expired(100_000);
        assert!(!set.client_revoked("app", 0));
    }
}
