//! The storage conformance suite: every backend runs every case through
//! [`conformance_suite!`](crate::conformance_suite), so behaviour cannot drift
//! between backends. Each case panics with a message on failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use tessera_core::client::{Client, ClientKind, ClientSettings, GrantType, TokenFormat};
use tessera_core::scope::ScopeSet;
use tessera_core::secret::Digest;
use tessera_core::store::{OpaqueToken, Revocation, RevokedToken, Store, StoreError, StoredKey};

pub use crate::conformance_accounts::*;
pub use crate::conformance_attempts::*;
pub use crate::conformance_device::*;
pub use crate::conformance_dpop::*;
pub use crate::conformance_refresh::*;
pub use crate::conformance_token_ids::*;

/// Expands to one `#[tokio::test]` per case, each on a fresh store made by
/// `$make` (an async expression yielding `Arc<dyn Store>`). With `guarded`,
/// `$make` yields `(Arc<dyn Store>, guard)` and the guard is dropped when
/// the case ends, pass or fail (e.g. to drop the case's own database).
#[macro_export]
macro_rules! conformance_suite {
    (guarded $make:expr) => {
        $crate::conformance_suite!(@list guarded $make);
    };
    (@list $how:ident $make:expr) => {
        $crate::conformance_suite!(@cases $how $make;
            clients_round_trip, keys_round_trip, settings_round_trip, revoking_a_key_deletes_it_and_feeds,
            generation_moves_on_every_config_change,
            tokens_round_trip, revoking_opaque_deletes_it_and_feeds, revocation_feed_orders_and_pages,
            purge_removes_only_expired, concurrent_writes_all_land, a_duplicate_in_a_batch_fails_alone, ping_and_revocation_signal,
            users_round_trip, scopes_round_trip, sessions_round_trip, consent_is_replaced,
            codes_redeem_once, concurrent_redemptions_exactly_one, revoking_a_grant_deletes_its_tokens,
            grants_filter_and_purge, deleting_a_client_forgets_its_grants,
            refresh_rotates_once_and_remembers_its_successor, concurrent_rotations_exactly_one,
            concurrent_rotations_of_many_families,
            no_refresh_token_outlives_its_grant, refresh_reads_its_users_standing,
            refresh_purge_drops_expired_and_sealed_successors, device_flow_states, concurrent_device_polls_redeem_once,
            shared_attempts_swap_atomically, tokens_with_and_without_ids_are_found,
            revoking_a_token_with_an_id_hides_it, refresh_tokens_with_and_without_ids_are_found,
            replays_first_use_once_until_expiry, concurrent_replays_exactly_one, replay_purge_removes_only_expired,
            opaque_token_key_binding_round_trips, code_key_binding_round_trips, refresh_key_binding_round_trips);
    };
    (@cases plain $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store: std::sync::Arc<dyn tessera_core::store::Store> = $make.await;
                $crate::conformance::$case(store).await;
            }
        )*
    };
    (@cases guarded $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard): (std::sync::Arc<dyn tessera_core::store::Store>, _) = $make.await;
                $crate::conformance::$case(store).await;
            }
        )*
    };
    ($make:expr) => {
        $crate::conformance_suite!(@list plain $make);
    };
}

pub fn client(id: &str, created_at: i64) -> Client {
    Client {
        id: id.into(),
        name: format!("client {id}"),
        kind: ClientKind::Confidential { secret_digest: Digest::of(id.as_bytes()) },
        settings: ClientSettings {
            grant_types: vec![GrantType::ClientCredentials],
            scope: ScopeSet::parse("a b").unwrap(),
            audiences: vec!["https://api.example".into()],
            token_format: TokenFormat::Opaque,
            token_binding: Default::default(),
            access_token_ttl: 900,
            introspection: false,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            allowed_origins: vec![],
            id_token_alg: None,
            refresh_idle_ttl: None,
            refresh_absolute_ttl: None,
            refresh_grace: None,
            allow_implicit: false,
            rate_limit: None,
        },
        created_at,
        updated_at: created_at,
    }
}

pub fn token(n: u32, expires_at: i64) -> OpaqueToken {
    OpaqueToken {
        digest: Digest::of(&n.to_le_bytes()),
        id: None,
        jti: format!("jti-{n}"),
        client_id: "c1".into(),
        subject: "c1".into(),
        scope: crate::conformance_accounts::scopes("a"),
        audience: vec!["https://api.example".into(), "urn:x".into()],
        issued_at: 100,
        expires_at,
        auth_time: (n % 2 == 1).then_some(90),
        grant_id: (n % 2 == 1).then(|| format!("g{}", n % 4)),
        jkt: None,
    }
}

pub(crate) fn revocation(token: RevokedToken, expires_at: i64) -> Revocation {
    Revocation { token, client_id: "c1".into(), expires_at, revoked_at: 100 }
}

pub async fn clients_round_trip(s: Arc<dyn Store>) {
    s.insert_client(&client("c1", 10)).await.unwrap();
    s.insert_client(&client("c2", 20)).await.unwrap();
    assert_eq!(s.insert_client(&client("c1", 30)).await, Err(StoreError::Conflict));
    assert_eq!(s.get_client(&"c1".into()).await.unwrap(), Some(client("c1", 10)));
    assert_eq!(s.get_client(&"nope".into()).await.unwrap(), None);
    let ids: Vec<String> = s.list_clients().await.unwrap().into_iter().map(|c| c.id.into_string()).collect();
    assert_eq!(ids, vec!["c1", "c2"]);
    let d = Digest::of(b"new");
    assert!(s.set_client_secret(&"c1".into(), d, 50).await.unwrap());
    let c = s.get_client(&"c1".into()).await.unwrap().unwrap();
    assert_eq!((c.kind, c.updated_at), (ClientKind::Confidential { secret_digest: d }, 50));
    assert!(!s.set_client_secret(&"nope".into(), d, 50).await.unwrap());
    let mut settings = client("c1", 10).settings;
    settings.rate_limit = Some(tessera_core::client::RateLimit { count: 5, per_seconds: 60 });
    assert!(s.set_client_settings(&"c1".into(), &settings, 60).await.unwrap());
    let c = s.get_client(&"c1".into()).await.unwrap().unwrap();
    assert_eq!(
        (c.settings, c.updated_at, c.kind),
        (settings.clone(), 60, ClientKind::Confidential { secret_digest: d })
    );
    assert!(!s.set_client_settings(&"nope".into(), &settings, 60).await.unwrap());
    assert!(s.delete_client(&"c1".into()).await.unwrap());
    assert!(!s.delete_client(&"c1".into()).await.unwrap());
    assert_eq!(s.get_client(&"c1".into()).await.unwrap(), None);
}

pub async fn settings_round_trip(s: Arc<dyn Store>) {
    use tessera_core::store::ISSUER_SETTING;
    assert_eq!(s.get_setting(ISSUER_SETTING).await.unwrap(), None, "nothing recorded yet");
    s.put_setting(ISSUER_SETTING, "https://a.example").await.unwrap();
    s.put_setting("other", "x").await.unwrap();
    assert_eq!(s.get_setting(ISSUER_SETTING).await.unwrap().as_deref(), Some("https://a.example"));
    // A deliberate change replaces the record.
    s.put_setting(ISSUER_SETTING, "https://b.example").await.unwrap();
    assert_eq!(s.get_setting(ISSUER_SETTING).await.unwrap().as_deref(), Some("https://b.example"));
    assert_eq!(s.get_setting("other").await.unwrap().as_deref(), Some("x"));
}

pub async fn keys_round_trip(s: Arc<dyn Store>) {
    let k = StoredKey {
        kid: "k1".into(),
        alg: "EdDSA".into(),
        sealed_private_key: vec![1, 2, 3],
        created_at: 5,
        activates_at: 65,
    };
    s.insert_key(&k).await.unwrap();
    assert_eq!(s.insert_key(&k).await, Err(StoreError::Conflict));
    assert_eq!(s.list_keys().await.unwrap(), vec![k.clone()]);
    // Same activation second: insertion order decides; earlier activation first.
    let later = StoredKey { kid: "a-later".into(), ..k.clone() };
    let earlier = StoredKey { kid: "z-earlier".into(), activates_at: 10, ..k.clone() };
    s.insert_key(&later).await.unwrap();
    s.insert_key(&earlier).await.unwrap();
    let kids: Vec<String> = s.list_keys().await.unwrap().into_iter().map(|k| k.kid).collect();
    assert_eq!(kids, vec!["z-earlier", "k1", "a-later"]);
}

/// A compromised key: recording its revocation deletes it in the same
/// commit (it never signs or verifies again, after a restart or on another
/// node), moves the configuration generation and feeds a `Key` entry.
pub async fn revoking_a_key_deletes_it_and_feeds(s: Arc<dyn Store>) {
    let key = |kid: &str| StoredKey {
        kid: kid.into(),
        alg: "EdDSA".into(),
        sealed_private_key: vec![1],
        created_at: 1,
        activates_at: 1,
    };
    s.insert_key(&key("k1")).await.unwrap();
    s.insert_key(&key("k2")).await.unwrap();
    let before = s.config_generation();
    let seq = s.revoke(&revocation(RevokedToken::Key("k1".into()), 1000)).await.unwrap();
    assert!(s.config_generation() > before, "a revoked key is a key change");
    assert_eq!(s.list_keys().await.unwrap(), vec![key("k2")]);
    let feed = s.revocations_after(0, 10).await.unwrap();
    assert_eq!((feed.len(), feed[0].seq), (1, seq));
    assert_eq!(feed[0].revocation, revocation(RevokedToken::Key("k1".into()), 1000));
}

pub async fn generation_moves_on_every_config_change(s: Arc<dyn Store>) {
    let mut last = s.config_generation();
    let mut moved = |s: &Arc<dyn Store>, what: &str| {
        let g = s.config_generation();
        assert!(g > last, "generation did not move after {what}");
        last = g;
    };
    s.insert_client(&client("c1", 1)).await.unwrap();
    moved(&s, "insert_client");
    s.set_client_secret(&"c1".into(), Digest::of(b"x"), 2).await.unwrap();
    moved(&s, "set_client_secret");
    s.set_client_settings(&"c1".into(), &client("c1", 1).settings, 3).await.unwrap();
    moved(&s, "set_client_settings");
    s.delete_client(&"c1".into()).await.unwrap();
    moved(&s, "delete_client");
    let k =
        StoredKey { kid: "k".into(), alg: "EdDSA".into(), sealed_private_key: vec![1], created_at: 1, activates_at: 1 };
    s.insert_key(&k).await.unwrap();
    moved(&s, "insert_key");
    // The scope registry feeds discovery and the consent page, both cached.
    let scope =
        tessera_core::store::ScopeInfo { name: "inventory:read".into(), description: "d".into(), created_at: 1 };
    s.insert_scope(&scope).await.unwrap();
    moved(&s, "insert_scope");
    s.delete_scope("inventory:read").await.unwrap();
    moved(&s, "delete_scope");
    // Token writes are not configuration: caches must not be flushed by them.
    s.insert_token(&token(1, 1000)).await.unwrap();
    assert_eq!(s.config_generation(), last, "a token write moved the generation");
}

pub async fn tokens_round_trip(s: Arc<dyn Store>) {
    let t = token(1, 1000);
    s.insert_token(&t).await.unwrap();
    assert_eq!(s.get_token(&t.digest).await.unwrap(), Some(t.clone()));
    assert_eq!(s.get_token(&Digest::of(b"unknown")).await.unwrap(), None);
    assert_eq!(s.insert_token(&t).await, Err(StoreError::Conflict));
}

pub async fn revoking_opaque_deletes_it_and_feeds(s: Arc<dyn Store>) {
    let t = token(1, 1000);
    s.insert_token(&t).await.unwrap();
    let seq = s.revoke(&revocation(RevokedToken::Opaque(t.digest), 1000)).await.unwrap();
    assert_eq!(s.get_token(&t.digest).await.unwrap(), None);
    let feed = s.revocations_after(0, 10).await.unwrap();
    assert_eq!(feed.len(), 1);
    assert_eq!(feed[0].seq, seq);
    assert_eq!(feed[0].revocation, revocation(RevokedToken::Opaque(t.digest), 1000));
}

/// A working store answers `ping`; one that offers a revocation signal
/// moves it once a revocation has committed.
pub async fn ping_and_revocation_signal(s: Arc<dyn Store>) {
    s.ping().await.unwrap();
    if let Some(mut signal) = s.revocation_signal() {
        signal.mark_seen();
        s.revoke(&revocation(RevokedToken::Jti("signalled".into()), 1000)).await.unwrap();
        let moved = tokio::time::timeout(std::time::Duration::from_secs(5), signal.changed()).await;
        assert!(matches!(moved, Ok(Ok(()))), "the revocation signal did not move");
    }
}

pub async fn revocation_feed_orders_and_pages(s: Arc<dyn Store>) {
    let mut seqs = Vec::new();
    for i in 0..5 {
        seqs.push(s.revoke(&revocation(RevokedToken::Jti(format!("j{i}")), 1000)).await.unwrap());
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "sequence numbers must grow: {seqs:?}");
    let page = s.revocations_after(seqs[1], 2).await.unwrap();
    let got: Vec<i64> = page.iter().map(|e| e.seq).collect();
    assert_eq!(got, vec![seqs[2], seqs[3]]);
    assert_eq!(page[0].revocation.token, RevokedToken::Jti("j2".into()));
    assert!(s.revocations_after(seqs[4], 10).await.unwrap().is_empty());
    assert_eq!(s.revocation_head().await.unwrap(), seqs[4]);
    // A deleted client's revocation round-trips with its own kind.
    let c = s.revoke(&revocation(RevokedToken::Client("c1".into()), 1000)).await.unwrap();
    let last = s.revocations_after(seqs[4], 10).await.unwrap();
    assert_eq!((last.len(), last[0].seq), (1, c));
    assert_eq!(last[0].revocation.token, RevokedToken::Client("c1".into()));
}

pub async fn purge_removes_only_expired(s: Arc<dyn Store>) {
    for n in 0..5 {
        s.insert_token(&token(n, 100 + i64::from(n))).await.unwrap(); // expire at 100..104
    }
    s.revoke(&revocation(RevokedToken::Jti("old".into()), 50)).await.unwrap();
    let keep = s.revoke(&revocation(RevokedToken::Jti("new".into()), 500)).await.unwrap();
    let p = s.purge_expired(102, 2).await.unwrap();
    assert_eq!((p.tokens, p.revocations), (2, 1), "batch bound");
    let p = s.purge_expired(102, 100).await.unwrap();
    assert_eq!(p.tokens, 1);
    for n in 0..3 {
        assert_eq!(s.get_token(&token(n, 0).digest).await.unwrap(), None);
    }
    for n in 3..5 {
        assert!(s.get_token(&token(n, 0).digest).await.unwrap().is_some());
    }
    let feed: Vec<i64> = s.revocations_after(0, 10).await.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(feed, vec![keep]);
    // The head survives purging everything: readers must not think the
    // store was replaced.
    s.purge_expired(1_000, 100).await.unwrap();
    assert_eq!(s.revocation_head().await.unwrap(), keep);
}

/// A duplicate among concurrent inserts (batched together by a backend
/// that groups commits) fails alone: every other token of its batch lands.
pub async fn a_duplicate_in_a_batch_fails_alone(s: Arc<dyn Store>) {
    for n in (0..200u32).step_by(10) {
        s.insert_token(&token(n, 1000)).await.unwrap();
    }
    let tasks: Vec<_> = (0..200u32)
        .map(|n| {
            let s = s.clone();
            tokio::spawn(async move { (n, s.insert_token(&token(n, 1000)).await) })
        })
        .collect();
    for t in tasks {
        let (n, r) = t.await.unwrap();
        let want = if n % 10 == 0 { Err(StoreError::Conflict) } else { Ok(()) };
        assert_eq!(r, want, "token {n}");
    }
    for n in 0..200u32 {
        assert!(s.get_token(&token(n, 0).digest).await.unwrap().is_some(), "token {n} lost");
    }
}

pub async fn concurrent_writes_all_land(s: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for n in 0..300u32 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            if n % 3 == 0 {
                s.revoke(&revocation(RevokedToken::Jti(format!("j{n}")), 1000)).await.map(|_| ())
            } else {
                s.insert_token(&token(n, 1000)).await
            }
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    for n in (0..300u32).filter(|n| n % 3 != 0) {
        assert!(s.get_token(&token(n, 0).digest).await.unwrap().is_some(), "token {n} lost");
    }
    assert_eq!(s.revocations_after(0, 1000).await.unwrap().len(), 100);
}
