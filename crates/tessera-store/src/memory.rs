//! An in-memory store: the reference behaviour for the conformance suite and
//! a backend for tests. Nothing survives the process.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use tessera_core::client::Client;
use tessera_core::secret::Digest;
use tessera_core::store::{
    OpaqueToken, Purged, Revocation, RevocationEntry, RevokedToken, Store, StoreError, StoredKey,
};

#[derive(Default)]
struct Inner {
    clients: HashMap<String, Client>,
    keys: Vec<StoredKey>,
    tokens: HashMap<Digest, OpaqueToken>,
    revocations: BTreeMap<i64, Revocation>,
    next_seq: i64,
}

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    generation: AtomicU64,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore")
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> Result<T, StoreError> {
        let mut g = self.inner.lock().map_err(|_| StoreError::Unavailable("memory store lock poisoned".into()))?;
        Ok(f(&mut g))
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        let r = self.with(|i| {
            if i.clients.contains_key(&client.id) {
                return Err(StoreError::Conflict);
            }
            i.clients.insert(client.id.clone(), client.clone());
            Ok(())
        })?;
        self.bump();
        r
    }

    async fn get_client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        self.with(|i| i.clients.get(id).cloned())
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let mut v = self.with(|i| i.clients.values().cloned().collect::<Vec<_>>())?;
        v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(v)
    }

    async fn set_client_secret(&self, id: &str, digest: Digest, now: i64) -> Result<bool, StoreError> {
        let found = self.with(|i| match i.clients.get_mut(id) {
            Some(c) => {
                c.secret_digest = Some(digest);
                c.updated_at = now;
                true
            }
            None => false,
        })?;
        self.bump();
        Ok(found)
    }

    async fn delete_client(&self, id: &str) -> Result<bool, StoreError> {
        let found = self.with(|i| i.clients.remove(id).is_some())?;
        self.bump();
        Ok(found)
    }

    async fn insert_key(&self, key: &StoredKey) -> Result<(), StoreError> {
        let r = self.with(|i| {
            if i.keys.iter().any(|k| k.kid == key.kid) {
                return Err(StoreError::Conflict);
            }
            i.keys.push(key.clone());
            Ok(())
        })?;
        self.bump();
        r
    }

    async fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let mut keys = self.with(|i| i.keys.clone())?;
        keys.sort_by_key(|k| k.activates_at); // stable: ties stay in insertion order
        Ok(keys)
    }

    fn config_generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    async fn insert_token(&self, token: &OpaqueToken) -> Result<(), StoreError> {
        self.with(|i| {
            if i.tokens.contains_key(&token.digest) {
                return Err(StoreError::Conflict);
            }
            i.tokens.insert(token.digest, token.clone());
            Ok(())
        })?
    }

    async fn get_token(&self, digest: &Digest) -> Result<Option<OpaqueToken>, StoreError> {
        self.with(|i| i.tokens.get(digest).cloned())
    }

    async fn revoke(&self, revocation: &Revocation) -> Result<i64, StoreError> {
        self.with(|i| {
            if let RevokedToken::Opaque(d) = &revocation.token {
                i.tokens.remove(d);
            }
            i.next_seq += 1;
            let seq = i.next_seq;
            i.revocations.insert(seq, revocation.clone());
            seq
        })
    }

    async fn revocations_after(&self, after: i64, limit: u32) -> Result<Vec<RevocationEntry>, StoreError> {
        self.with(|i| {
            i.revocations
                .range(after.saturating_add(1)..)
                .take(limit as usize)
                .map(|(s, r)| RevocationEntry { seq: *s, revocation: r.clone() })
                .collect()
        })
    }

    async fn purge_expired(&self, now: i64, batch: u32) -> Result<Purged, StoreError> {
        self.with(|i| {
            let dead: Vec<Digest> =
                i.tokens.values().filter(|t| t.expires_at <= now).take(batch as usize).map(|t| t.digest).collect();
            for d in &dead {
                i.tokens.remove(d);
            }
            let dead_rev: Vec<i64> = i
                .revocations
                .iter()
                .filter(|(_, r)| r.expires_at <= now)
                .take(batch as usize)
                .map(|(s, _)| *s)
                .collect();
            for s in &dead_rev {
                i.revocations.remove(s);
            }
            Purged { tokens: dead.len() as u64, revocations: dead_rev.len() as u64 }
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|_| ())
    }
}
