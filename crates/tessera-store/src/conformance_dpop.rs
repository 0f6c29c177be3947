//! Conformance cases for DPoP storage: the cluster-wide replay cache
//! ([`ReplayStore`]) uses a key exactly once until it expires, however
//! many callers race, and the purge drops only expired entries; the key
//! bindings of tokens and codes (RFC 7638 thumbprints) round-trip, bound
//! or not, through every write path (single and grouped inserts,
//! rotations, redemptions).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use tessera_core::secret::Digest;
use tessera_core::store::{AuthCode, OpaqueToken, Redemption, RefreshToken, Rotation, Store};

use crate::conformance::token;
use crate::conformance_accounts::code;
use crate::conformance_refresh::{family_grant, refresh};

/// An RFC 7638 SHA-256 thumbprint's shape (43 base64url characters).
fn thumbprint(n: u8) -> Option<String> {
    Some(format!("{n:02}{}", "x".repeat(41)))
}

/// Every other one bound.
fn bound(n: u8) -> Option<String> {
    if n.is_multiple_of(2) { thumbprint(n) } else { None }
}

fn key(n: u8) -> [u8; 32] {
    [n; 32]
}

pub async fn replays_first_use_once_until_expiry(s: Arc<dyn Store>) {
    assert!(s.first_use(&key(1), 100, 40).await.unwrap(), "first use wins");
    assert!(!s.first_use(&key(1), 100, 41).await.unwrap(), "second use refused");
    assert!(!s.first_use(&key(1), 200, 100).await.unwrap(), "live through its expiry second");
    assert!(s.first_use(&key(2), 100, 41).await.unwrap(), "another key is independent");
    assert!(s.first_use(&key(1), 300, 101).await.unwrap(), "an expired key may be used again");
    assert!(!s.first_use(&key(1), 300, 102).await.unwrap(), "once: it now lives until 300");
    assert!(!s.first_use(&key(1), 400, 300).await.unwrap());
}

/// How many of 200 concurrent uses of one key won.
async fn race(s: &Arc<dyn Store>, k: [u8; 32], expires_at: i64, now: i64) -> usize {
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.first_use(&k, expires_at, now).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    won
}

pub async fn concurrent_replays_exactly_one(s: Arc<dyn Store>) {
    assert_eq!(race(&s, key(7), 1000, 500).await, 1, "of 200 concurrent uses of one key exactly one wins");
    assert_eq!(race(&s, key(7), 2000, 1001).await, 1, "of 200 concurrent reuses of an expired key exactly one wins");
}

pub async fn replay_purge_removes_only_expired(s: Arc<dyn Store>) {
    assert!(s.first_use(&key(1), 100, 0).await.unwrap());
    assert!(s.first_use(&key(2), 200, 0).await.unwrap());
    assert!(s.first_use(&key(3), 200, 0).await.unwrap());
    assert_eq!(s.purge_expired(100, 100).await.unwrap().other, 0, "nothing has expired at 100");
    assert_eq!(s.purge_expired(150, 100).await.unwrap().other, 1, "only key 1 has expired");
    assert_eq!(s.purge_expired(200, 100).await.unwrap().other, 0, "keys 2 and 3 live through 200");
    assert!(!s.first_use(&key(2), 300, 200).await.unwrap(), "the purge kept live entries");
    // Bounded batches: two expired entries, one per purge.
    assert_eq!(s.purge_expired(201, 1).await.unwrap().other, 1);
    assert_eq!(s.purge_expired(201, 1).await.unwrap().other, 1);
    assert_eq!(s.purge_expired(201, 1).await.unwrap().other, 0);
}

pub async fn opaque_token_key_binding_round_trips(s: Arc<dyn Store>) {
    // Concurrent inserts, so grouped (multi-row) writes carry the column too.
    let tokens: Vec<OpaqueToken> =
        (0..16u8).map(|n| OpaqueToken { jkt: bound(n), ..token(100 + u32::from(n), 1000) }).collect();
    let tasks: Vec<_> = tokens
        .iter()
        .cloned()
        .map(|t| {
            let s = s.clone();
            tokio::spawn(async move { s.insert_token(&t).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    for t in &tokens {
        assert_eq!(s.get_token(&t.digest).await.unwrap().as_ref(), Some(t), "jkt {:?}", t.jkt);
    }
    assert!(tokens.iter().any(|t| t.jkt.is_some()) && tokens.iter().any(|t| t.jkt.is_none()));
}

pub async fn code_key_binding_round_trips(s: Arc<dyn Store>) {
    let bound_code = AuthCode { dpop_jkt: thumbprint(1), ..code(1, "c1", 160) };
    let unbound = code(2, "c1", 160);
    for c in [&bound_code, &unbound] {
        s.insert_code(c).await.unwrap();
        match s.redeem_code(&c.digest, &"c1".into(), 110, 1000).await.unwrap() {
            Redemption::Redeemed(got) => assert_eq!(&got, c, "dpop_jkt {:?}", c.dpop_jkt),
            other => panic!("first redemption: {other:?}"),
        }
        match s.redeem_code(&c.digest, &"c1".into(), 111, 1000).await.unwrap() {
            Redemption::Replayed(got) => assert_eq!(got.dpop_jkt, c.dpop_jkt),
            other => panic!("replay: {other:?}"),
        }
    }
}

pub async fn refresh_key_binding_round_trips(s: Arc<dyn Store>) {
    // Four families, bound and not, each rotated concurrently (a grouped
    // rotation where the backend has one) to a successor keeping its binding.
    let fam = |g: u8, i: u8| RefreshToken {
        digest: Digest::of(&[g, i, 21]),
        grant_id: format!("jkt-{g}"),
        jkt: bound(g),
        ..refresh(0, 500)
    };
    for g in 0..4u8 {
        s.insert_grant(&family_grant(format!("jkt-{g}"))).await.unwrap();
        assert!(s.insert_refresh(&fam(g, 0)).await.unwrap());
        assert_eq!(s.get_refresh(&fam(g, 0).digest).await.unwrap().unwrap().token, fam(g, 0));
    }
    let tasks: Vec<_> = (0..4u8)
        .map(|g| {
            let s = s.clone();
            tokio::spawn(async move { s.rotate_refresh(&fam(g, 0).digest, 200, 210, &[g], &fam(g, 1)).await.unwrap() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), Rotation::Rotated);
    }
    for g in 0..4u8 {
        let next = s.get_refresh(&fam(g, 1).digest).await.unwrap().unwrap().token;
        assert_eq!(next, fam(g, 1));
        assert_eq!(next.jkt, bound(g), "family {g}");
    }
}
