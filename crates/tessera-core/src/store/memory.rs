//! An in-memory store: the reference behaviour for the conformance suite and
//! a backend for tests. Nothing survives the process.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::client::{Client, ClientKind, ClientSettings};
use crate::ids::{ClientId, UserId};
use crate::secret::{Digest, TokenKey};
use crate::store::prelude::*;
use crate::store::{
    AuthCode, Consent, DeviceApproval, DeviceCode, DeviceStatus, Grant, GrantFilter, OpaqueToken, Poll, Purged,
    Redemption, RefreshState, RefreshToken, Revocation, RevocationEntry, RevokedToken, Rotation, ScopeInfo, Session,
    StoreError, StoredKey, User,
};
use crate::throttle::{Count, WINDOW};
use async_trait::async_trait;

#[derive(Default)]
struct Inner {
    clients: HashMap<ClientId, Client>,
    keys: Vec<StoredKey>,
    tokens: HashMap<Digest, OpaqueToken>,
    revocations: BTreeMap<i64, Revocation>,
    next_seq: i64,
    users: HashMap<UserId, User>,
    scopes: BTreeMap<String, ScopeInfo>,
    sessions: HashMap<Digest, Session>,
    consents: HashMap<(UserId, ClientId), Consent>,
    /// With the time it was used.
    codes: HashMap<Digest, (AuthCode, Option<i64>)>,
    grants: HashMap<String, Grant>,
    refresh: HashMap<Digest, RefreshState>,
    devices: HashMap<Digest, DeviceCode>,
    attempts: HashMap<String, Count>,
    /// Replay-cache keys with their expiry.
    replays: HashMap<[u8; 32], i64>,
    settings: HashMap<String, String>,
}

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    generation: AtomicU64,
    /// While set, [`StoreWide::config_generation`] stands still (see [`MemoryStore::hold_generation`]).
    held: std::sync::atomic::AtomicBool,
    reads: [AtomicU64; 3],
}

/// How often the configuration was read, for tests of the caches in front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigReads {
    pub get_client: u64,
    pub list_clients: u64,
    pub list_scopes: u64,
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

    /// Tests: while `hold` is true, the configuration generation does not
    /// move, as for a node that has not yet heard of another node's change.
    pub fn hold_generation(&self, hold: bool) {
        self.held.store(hold, Ordering::SeqCst);
        if !hold {
            self.bump();
        }
    }

    /// Reads of clients and scopes so far.
    pub fn config_reads(&self) -> ConfigReads {
        let r = |i: usize| self.reads[i].load(Ordering::SeqCst);
        ConfigReads { get_client: r(0), list_clients: r(1), list_scopes: r(2) }
    }

    fn bump(&self) {
        if !self.held.load(Ordering::SeqCst) {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        let r = self.with(|i| insert_new(&mut i.clients, client.id.clone(), client.clone()))?;
        self.bump();
        r
    }

    async fn get_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        self.reads[0].fetch_add(1, Ordering::SeqCst);
        self.with(|i| i.clients.get(id).cloned())
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        self.reads[1].fetch_add(1, Ordering::SeqCst);
        let mut v = self.with(|i| i.clients.values().cloned().collect::<Vec<_>>())?;
        v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(v)
    }

    async fn set_client_secret(&self, id: &ClientId, digest: Digest, now: i64) -> Result<bool, StoreError> {
        let found = self.with(|i| match i.clients.get_mut(id) {
            Some(c) => {
                c.kind = ClientKind::Confidential { secret_digest: digest };
                c.updated_at = now;
                true
            }
            None => false,
        })?;
        self.bump();
        Ok(found)
    }

    async fn set_client_settings(
        &self,
        id: &ClientId,
        settings: &ClientSettings,
        now: i64,
    ) -> Result<bool, StoreError> {
        let found = self.with(|i| match i.clients.get_mut(id) {
            Some(c) => {
                c.settings = settings.clone();
                c.updated_at = now;
                true
            }
            None => false,
        })?;
        self.bump();
        Ok(found)
    }

    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let found = self.with(|i| {
            i.grants.retain(|_, g| g.client_id != *id);
            i.refresh.retain(|_, r| r.token.client_id != *id);
            i.devices.retain(|_, d| d.client_id != *id);
            i.consents.retain(|k, _| k.1 != *id);
            i.codes.retain(|_, c| c.0.client_id != *id);
            i.clients.remove(id).is_some()
        })?;
        self.bump();
        Ok(found)
    }
}

#[async_trait]
impl KeyStore for MemoryStore {
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
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn insert_token(&self, token: &OpaqueToken) -> Result<(), StoreError> {
        self.with(|i| insert_new(&mut i.tokens, token.digest, token.clone()))?
    }

    async fn find_token(&self, key: &TokenKey) -> Result<Option<OpaqueToken>, StoreError> {
        // Kept by SHA-256 here, and deleted by it on revocation: the id only has to agree.
        self.with(|i| i.tokens.get(&key.sha256).filter(|t| t.id == key.id).cloned())
    }
}

#[async_trait]
impl RevocationStore for MemoryStore {
    async fn revoke(&self, revocation: &Revocation) -> Result<i64, StoreError> {
        let seq = self.with(|i| {
            match &revocation.token {
                RevokedToken::Opaque(d) => {
                    i.tokens.remove(d);
                }
                RevokedToken::Grant(g) => {
                    i.tokens.retain(|_, t| t.grant_id.as_ref() != Some(g));
                    i.refresh.retain(|_, r| r.token.grant_id != *g);
                    i.grants.remove(g);
                }
                RevokedToken::Key(kid) => i.keys.retain(|k| k.kid != *kid),
                RevokedToken::Jti(_) | RevokedToken::Client(_) => {}
            }
            i.next_seq += 1;
            let seq = i.next_seq;
            i.revocations.insert(seq, revocation.clone());
            seq
        })?;
        if matches!(revocation.token, RevokedToken::Key(_)) {
            self.bump();
        }
        Ok(seq)
    }

    async fn revocation_head(&self) -> Result<i64, StoreError> {
        self.with(|i| i.next_seq)
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
}

#[async_trait]
impl SettingStore for MemoryStore {
    async fn get_setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.with(|i| i.settings.get(name).cloned())
    }

    async fn put_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.with(|i| {
            i.settings.insert(name.to_string(), value.to_string());
        })
    }
}

#[async_trait]
impl StoreWide for MemoryStore {
    fn config_generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Shared by every `Authority` built on this store, as a database is by nodes.
    fn shared_attempts(&self) -> Option<&dyn AttemptStore> {
        Some(self)
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
            let count = |i: &Inner| {
                i.codes.len() + i.sessions.len() + i.grants.len() + i.refresh.len() + i.devices.len() + i.replays.len()
            };
            let before = count(i);
            i.codes.retain(|_, c| c.0.expires_at > now - CODE_REPLAY_MEMORY);
            i.sessions.retain(|_, s| s.expires_at > now);
            i.grants.retain(|_, g| g.expires_at > now);
            i.refresh.retain(|_, r| r.token.expires_at > now);
            i.devices.retain(|_, d| d.expires_at > now - CODE_REPLAY_MEMORY);
            i.attempts.retain(|_, c| c.first > now - WINDOW);
            // An entry lives through its expiry second; at most `batch` go, as in SQL.
            let spent: Vec<[u8; 32]> =
                i.replays.iter().filter(|(_, e)| **e < now).take(batch as usize).map(|(k, _)| *k).collect();
            for k in &spent {
                i.replays.remove(k);
            }
            for r in i.refresh.values_mut().filter(|r| r.grace_until <= now) {
                r.successor = None;
            }
            let other = (before - count(i)) as u64;
            Purged { tokens: dead.len() as u64, revocations: dead_rev.len() as u64, other }
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|_| ())
    }
}

/// Stores `value` under a `key` not yet taken; [`StoreError::Conflict`]
/// otherwise, as a unique key does in SQL.
fn insert_new<K: Eq + Hash, V>(map: &mut HashMap<K, V>, key: K, value: V) -> Result<(), StoreError> {
    match map.entry(key) {
        Entry::Occupied(_) => Err(StoreError::Conflict),
        Entry::Vacant(slot) => {
            slot.insert(value);
            Ok(())
        }
    }
}

/// As in SQLite: used codes are remembered a day past expiry to catch late replays.
const CODE_REPLAY_MEMORY: i64 = 24 * 60 * 60;

#[async_trait]
impl UserStore for MemoryStore {
    async fn insert_user(&self, u: &User) -> Result<(), StoreError> {
        self.with(|i| {
            if i.users.values().any(|x| x.username == u.username) {
                return Err(StoreError::Conflict);
            }
            insert_new(&mut i.users, u.id.clone(), u.clone())
        })?
    }

    async fn get_user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.with(|i| i.users.get(id).cloned())
    }

    async fn find_user(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.with(|i| i.users.values().find(|u| u.username == username).cloned())
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let mut v = self.with(|i| i.users.values().cloned().collect::<Vec<_>>())?;
        v.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(v)
    }

    async fn update_user(&self, u: &User) -> Result<bool, StoreError> {
        self.with(|i| match i.users.get_mut(&u.id) {
            Some(x) => {
                x.email = u.email.clone();
                x.name = u.name.clone();
                x.password_hash = u.password_hash.clone();
                x.disabled = u.disabled;
                x.updated_at = u.updated_at;
                true
            }
            None => false,
        })
    }

    async fn delete_user(&self, id: &UserId) -> Result<bool, StoreError> {
        self.with(|i| {
            i.sessions.retain(|_, s| s.user_id != *id);
            i.refresh.retain(|_, r| r.token.user_id != *id);
            i.consents.retain(|k, _| k.0 != *id);
            i.codes.retain(|_, c| c.0.user_id != *id);
            i.users.remove(id).is_some()
        })
    }
}

#[async_trait]
impl ScopeStore for MemoryStore {
    async fn insert_scope(&self, s: &ScopeInfo) -> Result<(), StoreError> {
        self.with(|i| {
            if i.scopes.contains_key(&s.name) {
                return Err(StoreError::Conflict);
            }
            i.scopes.insert(s.name.clone(), s.clone());
            Ok(())
        })??;
        self.bump();
        Ok(())
    }

    async fn list_scopes(&self) -> Result<Vec<ScopeInfo>, StoreError> {
        self.reads[2].fetch_add(1, Ordering::SeqCst);
        self.with(|i| i.scopes.values().cloned().collect())
    }

    async fn delete_scope(&self, name: &str) -> Result<bool, StoreError> {
        let gone = self.with(|i| i.scopes.remove(name).is_some())?;
        self.bump();
        Ok(gone)
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn insert_session(&self, s: &Session) -> Result<(), StoreError> {
        self.with(|i| insert_new(&mut i.sessions, s.digest, s.clone()))?
    }

    async fn get_session(&self, digest: &Digest) -> Result<Option<Session>, StoreError> {
        self.with(|i| i.sessions.get(digest).cloned())
    }

    async fn delete_session(&self, digest: &Digest) -> Result<bool, StoreError> {
        self.with(|i| i.sessions.remove(digest).is_some())
    }

    async fn list_sessions(&self, user_id: &UserId) -> Result<Vec<Session>, StoreError> {
        let mut v =
            self.with(|i| i.sessions.values().filter(|s| s.user_id == *user_id).cloned().collect::<Vec<_>>())?;
        v.sort_by_key(|s| s.created_at);
        Ok(v)
    }

    async fn delete_user_sessions(&self, user_id: &UserId) -> Result<u64, StoreError> {
        self.with(|i| {
            let before = i.sessions.len();
            i.sessions.retain(|_, s| s.user_id != *user_id);
            (before - i.sessions.len()) as u64
        })
    }
}

#[async_trait]
impl ConsentStore for MemoryStore {
    async fn put_consent(&self, c: &Consent) -> Result<(), StoreError> {
        self.with(|i| {
            i.consents.insert((c.user_id.clone(), c.client_id.clone()), c.clone());
        })
    }

    async fn get_consent(&self, user_id: &UserId, client_id: &ClientId) -> Result<Option<Consent>, StoreError> {
        self.with(|i| i.consents.get(&(user_id.clone(), client_id.clone())).cloned())
    }
}

#[async_trait]
impl CodeStore for MemoryStore {
    async fn insert_code(&self, c: &AuthCode) -> Result<(), StoreError> {
        self.with(|i| insert_new(&mut i.codes, c.digest, (c.clone(), None)))?
    }

    async fn redeem_code(
        &self,
        digest: &Digest,
        client_id: &ClientId,
        now: i64,
        grant_expires_at: i64,
    ) -> Result<Redemption, StoreError> {
        self.with(|i| {
            let Some((code, used)) = i.codes.get_mut(digest) else { return Redemption::Unknown };
            if used.is_some() {
                return Redemption::Replayed(code.clone());
            }
            if code.client_id != *client_id {
                return Redemption::WrongClient;
            }
            if now >= code.expires_at {
                return Redemption::Unknown;
            }
            *used = Some(now);
            let code = code.clone();
            i.grants.insert(
                code.grant_id.clone(),
                Grant {
                    id: code.grant_id.clone(),
                    user_id: code.user_id.clone(),
                    client_id: code.client_id.clone(),
                    scope: code.scope.clone(),
                    session_id: Some(code.session_id.clone()),
                    created_at: now,
                    expires_at: grant_expires_at,
                },
            );
            Redemption::Redeemed(code)
        })
    }
}

#[async_trait]
impl GrantStore for MemoryStore {
    async fn insert_grant(&self, g: &Grant) -> Result<(), StoreError> {
        self.with(|i| insert_new(&mut i.grants, g.id.clone(), g.clone()))?
    }

    async fn get_grant(&self, id: &str) -> Result<Option<Grant>, StoreError> {
        self.with(|i| i.grants.get(id).cloned())
    }

    async fn list_grants(&self, f: &GrantFilter) -> Result<Vec<Grant>, StoreError> {
        let mut v = self.with(|i| {
            i.grants
                .values()
                .filter(|g| f.user_id.as_ref().is_none_or(|u| *u == g.user_id))
                .filter(|g| f.client_id.as_ref().is_none_or(|c| *c == g.client_id))
                .cloned()
                .collect::<Vec<_>>()
        })?;
        v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(v)
    }
}

#[async_trait]
impl RefreshStore for MemoryStore {
    async fn insert_refresh(&self, t: &RefreshToken) -> Result<bool, StoreError> {
        self.with(|i| {
            if i.refresh.contains_key(&t.digest) {
                return Err(StoreError::Conflict);
            }
            if !i.grants.contains_key(&t.grant_id) {
                return Ok(false);
            }
            let state =
                RefreshState { token: t.clone(), rotated_at: None, grace_until: 0, successor: None, user_active: true };
            i.refresh.insert(t.digest, state);
            Ok(true)
        })?
    }

    async fn get_refresh(&self, digest: &Digest) -> Result<Option<RefreshState>, StoreError> {
        self.with(|i| i.refresh.get(digest).map(|s| with_user(i, s)))
    }

    async fn rotate_refresh(
        &self,
        old: &Digest,
        now: i64,
        grace_until: i64,
        sealed: &[u8],
        successor: &RefreshToken,
    ) -> Result<Rotation, StoreError> {
        self.with(|i| {
            let Some(state) = i.refresh.get(old) else { return Rotation::Gone };
            if state.rotated_at.is_some() {
                return Rotation::AlreadyRotated(Box::new(with_user(i, state)));
            }
            if now >= state.token.expires_at
                || now >= state.token.family_expires_at
                || !i.grants.contains_key(&successor.grant_id)
            {
                return Rotation::Gone;
            }
            if let Some(s) = i.refresh.get_mut(old) {
                s.rotated_at = Some(now);
                s.grace_until = grace_until;
                s.successor = Some(sealed.to_vec());
            }
            let next = RefreshState {
                token: successor.clone(),
                rotated_at: None,
                grace_until: 0,
                successor: None,
                user_active: true,
            };
            i.refresh.insert(successor.digest, next);
            Rotation::Rotated
        })
    }
}

#[async_trait]
impl DeviceStore for MemoryStore {
    async fn insert_device(&self, d: &DeviceCode) -> Result<(), StoreError> {
        self.with(|i| {
            if i.devices.values().any(|x| x.user_digest == d.user_digest) {
                return Err(StoreError::Conflict);
            }
            insert_new(&mut i.devices, d.device_digest, d.clone())
        })?
    }

    async fn find_device(&self, user_digest: &Digest, now: i64) -> Result<Option<DeviceCode>, StoreError> {
        self.with(|i| {
            i.devices
                .values()
                .find(|d| d.user_digest == *user_digest && d.status == DeviceStatus::Pending && d.expires_at > now)
                .cloned()
        })
    }

    async fn decide_device(
        &self,
        user_digest: &Digest,
        now: i64,
        approval: Option<DeviceApproval>,
    ) -> Result<bool, StoreError> {
        self.with(|i| {
            let Some(d) = i
                .devices
                .values_mut()
                .find(|d| d.user_digest == *user_digest && d.status == DeviceStatus::Pending && d.expires_at > now)
            else {
                return false;
            };
            d.status = match approval {
                Some(a) => DeviceStatus::Approved(a),
                None => DeviceStatus::Denied,
            };
            true
        })
    }

    async fn poll_device(
        &self,
        device_digest: &Digest,
        client_id: &ClientId,
        now: i64,
        grant_expires_at: i64,
    ) -> Result<Poll, StoreError> {
        self.with(|i| {
            let Some(d) = i.devices.get_mut(device_digest) else { return Poll::Invalid };
            if d.client_id != *client_id || d.status == DeviceStatus::Redeemed {
                return Poll::Invalid;
            }
            if now >= d.expires_at {
                return Poll::Expired;
            }
            if d.status == DeviceStatus::Denied {
                return Poll::Denied;
            }
            let too_soon = d.last_poll_at.is_some_and(|t| now - t < d.interval);
            if too_soon {
                d.interval += 5;
            }
            d.last_poll_at = Some(now);
            if too_soon {
                return Poll::SlowDown(d.interval);
            }
            let DeviceStatus::Approved(DeviceApproval { user_id, .. }) = &d.status else { return Poll::Pending };
            let grant = Grant {
                id: d.grant_id.clone(),
                user_id: user_id.clone(),
                client_id: d.client_id.clone(),
                scope: d.scope.clone(),
                session_id: None,
                created_at: now,
                expires_at: grant_expires_at,
            };
            let code = d.clone();
            d.status = DeviceStatus::Redeemed;
            i.grants.insert(grant.id.clone(), grant);
            Poll::Approved(Box::new(code))
        })
    }
}

#[async_trait]
impl AttemptStore for MemoryStore {
    async fn get_attempts(&self, key: &str) -> Result<Option<Count>, StoreError> {
        self.with(|i| i.attempts.get(key).copied())
    }

    async fn swap_attempts(&self, key: &str, expected: Option<Count>, new: Option<Count>) -> Result<bool, StoreError> {
        self.with(|i| {
            if i.attempts.get(key).copied() != expected {
                return false;
            }
            match new {
                Some(c) => i.attempts.insert(key.to_string(), c),
                None => i.attempts.remove(key),
            };
            true
        })
    }
}

#[async_trait]
impl ReplayStore for MemoryStore {
    async fn first_use(&self, key: &[u8; 32], expires_at: i64, now: i64) -> Result<bool, StoreError> {
        self.with(|i| match i.replays.entry(*key) {
            Entry::Occupied(e) if *e.get() >= now => false,
            Entry::Occupied(mut e) => {
                e.insert(expires_at);
                true
            }
            Entry::Vacant(e) => {
                e.insert(expires_at);
                true
            }
        })
    }
}

/// A stored refresh state with its user's standing as of now.
fn with_user(i: &Inner, s: &RefreshState) -> RefreshState {
    let mut s = s.clone();
    s.user_active = i.users.get(&s.token.user_id).is_some_and(|u| !u.disabled);
    s
}
