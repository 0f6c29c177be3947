//! Following the issuer's revocation feed (`GET /oauth2/revocations`,
//! long-polled) so that a revoked JWT, a revoked grant, a deleted client's
//! tokens or a revoked signing key's tokens are refused within a second,
//! long before their `exp`.
//!
//! The feed is authoritative only while we hear from it: every answer
//! (long-polls return at least every `wait`) refreshes `last_contact`, and a
//! guard that has not heard from the issuer for longer than its maximum
//! staleness stops trusting its own view (see `OnStale`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{RwLock, Weak};
use std::time::{Duration, Instant};

use tessera_proto::{RevocationFeed, RevocationFeedEntry, RevokedKind};

use crate::http::Credentials;
use crate::jwt::Claims;

#[derive(Default)]
struct Sets {
    jti: HashMap<String, i64>,
    grant: HashMap<String, i64>,
    /// client id → (revoked_at, exp): tokens issued at or before revoked_at.
    client: HashMap<String, (i64, i64)>,
    /// SHA-256 of opaque tokens → exp.
    token: HashMap<[u8; 32], i64>,
    /// Revoked signing keys' `kid` → exp.
    key: HashMap<String, i64>,
}

impl Sets {
    fn is_empty(&self) -> bool {
        self.jti.is_empty()
            && self.grant.is_empty()
            && self.client.is_empty()
            && self.token.is_empty()
            && self.key.is_empty()
    }
}

pub(crate) struct Revoked {
    sets: RwLock<Sets>,
    /// Skips the lock entirely while nothing is revoked (the common case).
    any: std::sync::atomic::AtomicBool,
    seq: AtomicI64,
    base: Instant,
    /// Milliseconds after `base` of the last answer from the feed.
    last_contact: AtomicU64,
}

/// What applying a batch means for the caches.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub tokens: Vec<[u8; 32]>,
    /// A grant or client was revoked: opaque tokens' introspection results
    /// do not say which grant they belong to, so those caches are flushed.
    pub flush_opaque: bool,
    /// Signing keys revoked: drop them and the tokens they verified.
    pub kids: Vec<String>,
}

impl Revoked {
    pub fn new() -> Self {
        Self {
            sets: RwLock::default(),
            any: false.into(),
            seq: AtomicI64::new(0),
            base: Instant::now(),
            last_contact: AtomicU64::new(0),
        }
    }

    /// A poisoned lock answers "revoked": fail closed.
    pub fn claims_revoked(&self, c: &Claims) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
        let Ok(s) = self.sets.read() else { return true };
        s.jti.contains_key(&c.jti)
            || c.grant_id.as_ref().is_some_and(|g| s.grant.contains_key(g))
            || s.client.get(&c.client_id).is_some_and(|(at, _)| c.iat <= *at)
    }

    /// A revoked signing key: refused even while a stale JWKS lists it.
    pub fn kid_revoked(&self, kid: &str) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
        self.sets.read().map(|s| s.key.contains_key(kid)).unwrap_or(true)
    }

    pub fn token_revoked(&self, digest: &[u8; 32]) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
        self.sets.read().map(|s| s.token.contains_key(digest)).unwrap_or(true)
    }

    pub fn position(&self) -> i64 {
        self.seq.load(Ordering::Acquire)
    }

    pub fn apply(&self, entries: &[RevocationFeedEntry]) -> Applied {
        let mut out = Applied::default();
        let Ok(mut s) = self.sets.write() else { return out };
        for e in entries {
            match e.kind {
                RevokedKind::Jti => {
                    s.jti.insert(e.value.clone(), e.exp);
                }
                RevokedKind::Grant => {
                    s.grant.insert(e.value.clone(), e.exp);
                    out.flush_opaque = true;
                }
                RevokedKind::Client => {
                    let at = s.client.get(&e.value).map_or(e.revoked_at, |(at, _)| (*at).max(e.revoked_at));
                    s.client.insert(e.value.clone(), (at, e.exp));
                    out.flush_opaque = true;
                }
                RevokedKind::Key => {
                    s.key.insert(e.value.clone(), e.exp);
                    out.kids.push(e.value.clone());
                }
                RevokedKind::TokenSha256 => {
                    let mut d = [0u8; 32];
                    if hex::decode_to_slice(&e.value, &mut d).is_ok() {
                        s.token.insert(d, e.exp);
                        out.tokens.push(d);
                    }
                }
            }
            self.seq.fetch_max(e.seq, Ordering::AcqRel);
        }
        self.any.store(!s.is_empty(), Ordering::Release);
        out
    }

    /// Entries whose tokens have expired are no longer needed: `exp` refuses them.
    pub fn forget_expired(&self, now: i64) {
        if let Ok(mut s) = self.sets.write() {
            s.jti.retain(|_, exp| *exp > now);
            s.grant.retain(|_, exp| *exp > now);
            s.client.retain(|_, (_, exp)| *exp > now);
            s.token.retain(|_, exp| *exp > now);
            s.key.retain(|_, exp| *exp > now);
            self.any.store(!s.is_empty(), Ordering::Release);
        }
    }

    pub fn len(&self) -> usize {
        self.sets
            .read()
            .map(|s| s.jti.len() + s.grant.len() + s.client.len() + s.token.len() + s.key.len())
            .unwrap_or(0)
    }

    fn touch(&self) {
        self.last_contact.store(self.base.elapsed().as_millis() as u64, Ordering::Release);
    }

    /// How long since the feed last answered.
    pub fn silence(&self) -> Duration {
        let last = Duration::from_millis(self.last_contact.load(Ordering::Acquire));
        self.base.elapsed().saturating_sub(last)
    }
}

/// Where and how to follow the feed.
#[derive(Debug, Clone)]
pub(crate) struct FeedSource {
    pub url: String,
    pub credentials: Credentials,
    pub wait: Duration,
}

const PAGE: u32 = 10_000;

impl FeedSource {
    async fn fetch(
        &self,
        http: &reqwest::Client,
        after: i64,
        wait: Duration,
    ) -> Result<RevocationFeed, crate::GuardError> {
        let url = format!("{}?after={after}&limit={PAGE}&wait={}", self.url, wait.as_secs());
        crate::http::get_json(http, &url, Some((&self.credentials, wait + Duration::from_secs(10)))).await
    }

    /// Reads everything there is now (no waiting); used before the guard
    /// serves its first request.
    pub async fn catch_up(&self, http: &reqwest::Client, revoked: &Revoked) -> Result<Applied, crate::GuardError> {
        let mut all = Applied::default();
        loop {
            let feed = self.fetch(http, revoked.position(), Duration::ZERO).await?;
            revoked.touch();
            let full = feed.revocations.len() >= PAGE as usize;
            let a = revoked.apply(&feed.revocations);
            all.tokens.extend(a.tokens);
            all.flush_opaque |= a.flush_opaque;
            all.kids.extend(a.kids);
            if !full {
                return Ok(all);
            }
        }
    }
}

/// Long-polls until the guard is dropped. `on_applied` drops cached
/// introspection results the batch made stale.
pub(crate) async fn follow(guard: Weak<crate::guard::Inner>, source: FeedSource, http: reqwest::Client) {
    let mut backoff = Duration::from_millis(250);
    // After an error the next fetch asks for an immediate answer: a long-poll
    // would keep the guard stale (and, past `max_staleness`, refusing tokens)
    // for a whole wait after the issuer is back.
    let mut recovering = false;
    loop {
        let Some(inner) = guard.upgrade() else { return };
        let revoked: &Revoked = &inner.revoked;
        let after = revoked.position();
        // Holding the guard across the wait would keep it alive forever.
        drop(inner);
        let wait = if recovering { Duration::ZERO } else { source.wait };
        let result = source.fetch(&http, after, wait).await;
        let Some(inner) = guard.upgrade() else { return };
        match result {
            Ok(feed) => {
                backoff = Duration::from_millis(250);
                recovering = false;
                inner.revoked.touch();
                if feed.head < after {
                    // The issuer's store was replaced: start over. Entries we
                    // hold stay (fail closed); they expire on their own.
                    tracing::warn!(head = feed.head, after, "revocation feed went backwards; re-reading it");
                    inner.revoked.seq.store(0, Ordering::Release);
                    continue;
                }
                let applied = inner.revoked.apply(&feed.revocations);
                inner.forget_revoked(&applied);
            }
            Err(e) => {
                recovering = true;
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "revocation feed unreachable");
                drop(inner);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Drops revocation entries once their tokens have expired, and refreshes
/// the JWKS on its schedule.
pub(crate) async fn housekeeping(guard: Weak<crate::guard::Inner>, jwks_every: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(60).min(jwks_every));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut last_jwks = Instant::now();
    loop {
        tick.tick().await;
        let Some(inner) = guard.upgrade() else { return };
        inner.revoked.forget_expired(inner.clock.now());
        if last_jwks.elapsed() >= jwks_every {
            last_jwks = Instant::now();
            if let Err(e) = inner.keys.refresh().await {
                tracing::warn!(error = %e, "scheduled JWKS refresh failed; keeping the keys we have");
            }
        }
    }
}

impl Default for Revoked {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64, kind: RevokedKind, value: &str, revoked_at: i64) -> RevocationFeedEntry {
        RevocationFeedEntry { seq, kind, value: value.into(), client_id: "c".into(), exp: 1_000, revoked_at }
    }

    fn claims(jti: &str, grant: Option<&str>, client: &str, iat: i64) -> Claims {
        Claims {
            iss: "i".into(),
            sub: "s".into(),
            aud: tessera_proto::Audience::One("a".into()),
            exp: 1_000,
            iat,
            jti: jti.into(),
            client_id: client.into(),
            nbf: None,
            scope: None,
            auth_time: None,
            grant_id: grant.map(Into::into),
            cnf: None,
        }
    }

    #[test]
    fn entries_revoke_what_they_name() {
        let r = Revoked::new();
        assert!(!r.claims_revoked(&claims("j1", None, "c", 10)));
        let a = r.apply(&[
            entry(3, RevokedKind::Jti, "j1", 50),
            entry(4, RevokedKind::Grant, "g1", 50),
            entry(5, RevokedKind::Client, "gone", 50),
            entry(6, RevokedKind::TokenSha256, &"ab".repeat(32), 50),
        ]);
        assert_eq!(r.position(), 6);
        assert!(a.flush_opaque);
        assert_eq!(a.tokens, vec![[0xab; 32]]);
        assert!(r.claims_revoked(&claims("j1", None, "c", 10)));
        assert!(r.claims_revoked(&claims("j2", Some("g1"), "c", 10)));
        assert!(!r.claims_revoked(&claims("j2", Some("g2"), "c", 10)));
        assert!(r.claims_revoked(&claims("j3", None, "gone", 50)), "issued when the client was deleted");
        assert!(!r.claims_revoked(&claims("j3", None, "gone", 51)), "a later client with the same id");
        assert!(r.token_revoked(&[0xab; 32]));
        assert!(!r.kid_revoked("k1"));
        let a = r.apply(&[entry(7, RevokedKind::Key, "k1", 60)]);
        assert_eq!(a.kids, vec!["k1".to_string()]);
        assert!(r.kid_revoked("k1") && !r.kid_revoked("k2"));
        r.forget_expired(1_000);
        assert!(!r.claims_revoked(&claims("j1", None, "c", 10)));
        assert_eq!(r.len(), 0);
    }
}
