//! tessera-core's Authority on the memory store with an injected clock and
//! seeded randomness: expiry, revocation and purging without a single sleep.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use base64ct::{Base64, Encoding};
use common::{T0, form};
use tessera_core::client::{NewClient, TokenFormat};
use tessera_core::clock::{Clock, ManualClock};
use tessera_core::keys::{Algorithm, MasterKey};
use tessera_core::random::SeededRandom;
use tessera_core::store::memory::MemoryStore;
use tessera_core::store::prelude::*;
use tessera_core::{Authority, Settings};
use tessera_proto::ErrorCode;

struct Fixture {
    authority: Authority,
    clock: Arc<ManualClock>,
    store: Arc<MemoryStore>,
}

async fn fixture() -> Fixture {
    let settings = Settings { introspection_cache_capacity: 100, ..common::settings() };
    let (authority, clock, store) = common::start(settings, 42).await;
    Fixture { authority, clock, store }
}

async fn client(f: &Fixture, format: TokenFormat, ttl: u64) -> (String, String) {
    let (c, secret) = NewClient {
        id: None,
        name: "c".into(),
        grant_types: vec!["client_credentials".into()],
        scope: "a b".into(),
        audiences: vec![],
        token_format: format,
        access_token_ttl: Some(ttl),
        ..Default::default()
    }
    .build(&SeededRandom::new(7), f.clock.now())
    .unwrap();
    f.store.insert_client(&c).await.unwrap();
    (c.id.into_string(), secret.unwrap().expose().to_string())
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", Base64::encode_string(format!("{id}:{secret}").as_bytes()))
}

#[tokio::test]
async fn tokens_expire_by_the_injected_clock() {
    for format in [TokenFormat::Jwt, TokenFormat::Opaque] {
        let f = fixture().await;
        let (id, secret) = client(&f, format, 60).await;
        let auth = basic(&id, &secret);
        let t = f.authority.token(Some(&auth), &form("grant_type=client_credentials&scope=a")).await.unwrap();
        assert_eq!((t.expires_in, t.scope.as_deref()), (60, Some("a")));
        let introspect = format!("token={}", t.access_token);
        let active = |r: tessera_proto::IntrospectionResponse| r.active;
        assert!(active(f.authority.introspect(Some(&auth), &form(&introspect)).await.unwrap()));
        f.clock.advance(59);
        assert!(active(f.authority.introspect(Some(&auth), &form(&introspect)).await.unwrap()), "{format:?}");
        f.clock.advance(1);
        let r = f.authority.introspect(Some(&auth), &form(&introspect)).await.unwrap();
        assert_eq!(r, tessera_proto::IntrospectionResponse::inactive(), "{format:?} must expire at exp");
    }
}

#[tokio::test]
async fn revocation_lasts_until_expiry_then_is_purged() {
    let f = fixture().await;
    let (id, secret) = client(&f, TokenFormat::Jwt, 300).await;
    let auth = basic(&id, &secret);
    let t = f.authority.token(Some(&auth), &form("grant_type=client_credentials")).await.unwrap();
    let body = format!("token={}", t.access_token);
    f.authority.revoke(Some(&auth), &form(&body)).await.unwrap();
    assert!(!f.authority.introspect(Some(&auth), &form(&body)).await.unwrap().active);
    assert_eq!(f.store.revocations_after(0, 10).await.unwrap().len(), 1);
    // Not purged before the token's own expiry...
    f.clock.advance(299);
    assert_eq!(f.authority.purge_expired(100).await.unwrap().revocations, 0);
    // ...and after it, the entry goes: the token is dead by `exp` anyway.
    f.clock.advance(1);
    assert_eq!(f.authority.purge_expired(100).await.unwrap().revocations, 1);
    assert!(!f.authority.introspect(Some(&auth), &form(&body)).await.unwrap().active);
}

#[tokio::test]
async fn wrong_secret_unknown_client_and_grant_rules() {
    let f = fixture().await;
    let (id, secret) = client(&f, TokenFormat::Jwt, 300).await;
    let cases = [
        (basic(&id, "nope"), "grant_type=client_credentials", ErrorCode::InvalidClient),
        (basic("ghost", &secret), "grant_type=client_credentials", ErrorCode::InvalidClient),
        (basic(&id, &secret), "grant_type=client_credentials&scope=c", ErrorCode::InvalidScope),
        (basic(&id, &secret), "grant_type=password", ErrorCode::UnsupportedGrantType),
        (basic(&id, &secret), "grant_type=refresh_token&refresh_token=tsr_rt_x", ErrorCode::UnauthorizedClient),
        (basic(&id, &secret), "grant_type=client_credentials&resource=https://x.example", ErrorCode::InvalidTarget),
    ];
    for (auth, body, code) in cases {
        let e = f.authority.token(Some(&auth), &form(body)).await.unwrap_err();
        assert_eq!(e.code, code, "{body}");
    }
}

/// Node A rotates a key that signs at once; node B has not yet heard of it
/// (its configuration generation stands still, as while a notification is
/// in flight). B's introspection reloads the keys for the unknown `kid`
/// instead of calling A's token inactive, and does so at most once a second.
#[tokio::test]
async fn a_key_another_node_just_created_is_found_by_introspection() {
    let b = fixture().await;
    let (id, secret) = client(&b, TokenFormat::Jwt, 300).await;
    let auth = basic(&id, &secret);
    // B has loaded its keys and validated a token with them.
    let t = b.authority.token(Some(&auth), &form("grant_type=client_credentials")).await.unwrap();
    assert!(b.authority.introspect(Some(&auth), &form(&format!("token={}", t.access_token))).await.unwrap().active);

    b.store.hold_generation(true);
    let node_a = |rng: u64| {
        Authority::start(
            Settings { signing_alg: Algorithm::EdDSA, ..Settings::new("https://as.example") },
            b.store.clone(),
            MasterKey::from_bytes([1; 32]),
            b.clock.clone(),
            Arc::new(SeededRandom::new(rng)),
        )
    };
    let a = node_a(43).await.unwrap();
    let new_kid = a.rotate_key(0).await.unwrap()[0].clone();
    let a = node_a(44).await.unwrap(); // A restarted: signs with the new key
    let t = a.token(Some(&auth), &form("grant_type=client_credentials")).await.unwrap();
    assert_eq!(kid_of(&t.access_token), new_kid);
    assert!(b.authority.introspect(Some(&auth), &form(&format!("token={}", t.access_token))).await.unwrap().active);

    // A junk kid costs at most one reload a second: a second new key within
    // the same second is not looked for, the next second it is.
    let newer = a.rotate_key(0).await.unwrap()[0].clone();
    let a = node_a(45).await.unwrap();
    let t = a.token(Some(&auth), &form("grant_type=client_credentials")).await.unwrap();
    assert_eq!(kid_of(&t.access_token), newer);
    let body = format!("token={}", t.access_token);
    assert!(!b.authority.introspect(Some(&auth), &form(&body)).await.unwrap().active, "reloaded twice in a second");
    b.clock.advance(1);
    assert!(b.authority.introspect(Some(&auth), &form(&body)).await.unwrap().active);
}

fn kid_of(jwt: &str) -> String {
    let header = jwt.split('.').next().unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&base64ct::Base64UrlUnpadded::decode_vec(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_string()
}

/// What unauthenticated requests can make the server read: a made-up
/// client id, a CORS origin, discovery and the consent page's scope
/// sentences are answered from caches that a configuration change (in any
/// process) refreshes once; they never read whole tables per request.
#[tokio::test]
async fn unauthenticated_requests_are_served_from_caches_kept_fresh() {
    let f = fixture().await;
    let (id, _) = client(&f, TokenFormat::Jwt, 60).await;
    let before = f.store.config_reads();
    for _ in 0..100 {
        let e = f.authority.token(Some(&basic("made-up", "x")), &form("grant_type=client_credentials")).await;
        assert_eq!(e.unwrap_err().code, ErrorCode::InvalidClient);
        assert!(!f.authority.origin_allowed("https://evil.example").await);
        f.authority.metadata().await.unwrap();
    }
    let after = f.store.config_reads();
    assert_eq!(after.get_client - before.get_client, 1, "an unknown id is looked up once");
    assert_eq!(after.list_clients - before.list_clients, 1, "origins and discovery: one read of the clients");
    assert_eq!(after.list_scopes - before.list_scopes, 1, "and one of the scopes");

    // A change anywhere is seen at once, with one more read.
    let scope = tessera_core::store::ScopeInfo { name: "a".into(), description: "Read A".into(), created_at: T0 };
    f.store.insert_scope(&scope).await.unwrap();
    for _ in 0..10 {
        assert!(f.authority.metadata().await.unwrap().scopes_supported.contains(&"a".to_string()));
    }
    let fresh = f.store.config_reads();
    assert_eq!((fresh.list_clients - after.list_clients, fresh.list_scopes - after.list_scopes), (1, 1));
    let mut c = f.store.get_client(&id.as_str().into()).await.unwrap().unwrap();
    c.id = "made-up".into();
    c.settings.allowed_origins = vec!["https://spa.example".into()];
    f.store.insert_client(&c).await.unwrap();
    let fresh = f.store.config_reads();
    assert!(f.authority.origin_allowed("https://spa.example").await, "a new client's origin at once");
    let e = f.authority.token(Some(&basic("made-up", "x")), &form("grant_type=client_credentials")).await;
    assert_eq!(e.unwrap_err().code, ErrorCode::InvalidClient, "now known, still the wrong secret");
    assert_eq!(f.store.config_reads().get_client - fresh.get_client, 1, "the remembered unknown id was dropped");
}
