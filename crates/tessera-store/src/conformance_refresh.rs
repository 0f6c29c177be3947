//! Conformance cases for [`RefreshStore`]: rotation happens once, a spent
//! token remembers its successor for the retry window, revoking or
//! expiring the family ends every token of it, and no token is stored for a
//! grant that is gone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use tessera_core::secret::Digest;
use tessera_core::store::{RefreshToken, RevokedToken, Rotation, Store};

use crate::conformance::revocation;
use crate::conformance_accounts::{code, scopes};

/// A family (grant "grant-1", live until 1000) with its first token.
pub(crate) async fn family(s: &Arc<dyn Store>) -> RefreshToken {
    s.insert_code(&code(1, "c1", 160)).await.unwrap();
    s.redeem_code(&code(1, "c1", 160).digest, &"c1".into(), 110, 1000).await.unwrap();
    let first = refresh(1, 500);
    assert!(s.insert_refresh(&first).await.unwrap());
    first
}

/// A grant of user u1 to client c1 for a refresh family, live until 1000.
pub(crate) fn family_grant(id: String) -> tessera_core::store::Grant {
    tessera_core::store::Grant {
        id,
        user_id: "u1".into(),
        client_id: "c1".into(),
        scope: scopes("openid offline_access"),
        session_id: None,
        created_at: 1,
        expires_at: 1000,
    }
}

pub fn refresh(n: u8, expires_at: i64) -> RefreshToken {
    RefreshToken {
        digest: Digest::of(&[n, 3]),
        grant_id: "grant-1".into(),
        client_id: "c1".into(),
        user_id: "u1".into(),
        scope: crate::conformance_accounts::scopes("openid offline_access"),
        audience: vec!["https://api.example".into()],
        auth_time: 40,
        issued_at: 100,
        expires_at,
        family_expires_at: 1000,
        jkt: None,
    }
}

pub async fn refresh_rotates_once_and_remembers_its_successor(s: Arc<dyn Store>) {
    let first = family(&s).await;
    let fresh = s.get_refresh(&first.digest).await.unwrap().unwrap();
    assert_eq!((fresh.token, fresh.rotated_at, fresh.successor), (first.clone(), None, None));
    let second = refresh(2, 600);
    assert_eq!(s.rotate_refresh(&first.digest, 200, 210, b"sealed-2", &second).await.unwrap(), Rotation::Rotated);
    let spent = s.get_refresh(&first.digest).await.unwrap().unwrap();
    assert_eq!((spent.rotated_at, spent.grace_until), (Some(200), 210));
    assert_eq!(spent.successor.as_deref(), Some(&b"sealed-2"[..]));
    match s.rotate_refresh(&first.digest, 205, 215, b"sealed-x", &refresh(9, 600)).await.unwrap() {
        Rotation::AlreadyRotated(st) => assert_eq!(st.successor.as_deref(), Some(&b"sealed-2"[..])),
        other => panic!("a second rotation must not happen: {other:?}"),
    }
    assert!(s.get_refresh(&refresh(9, 0).digest).await.unwrap().is_none(), "the loser's successor is not stored");
    assert_eq!(
        s.rotate_refresh(&second.digest, 300, 310, b"sealed-3", &refresh(3, 700)).await.unwrap(),
        Rotation::Rotated
    );
    // Expired, unknown, or the family revoked: gone.
    assert_eq!(
        s.rotate_refresh(&refresh(3, 0).digest, 700, 710, b"s", &refresh(4, 800)).await.unwrap(),
        Rotation::Gone
    );
    assert_eq!(s.rotate_refresh(&Digest::of(b"x"), 300, 310, b"s", &refresh(5, 800)).await.unwrap(), Rotation::Gone);
    s.revoke(&revocation(RevokedToken::Grant("grant-1".into()), 1000)).await.unwrap();
    assert!(
        s.get_refresh(&refresh(3, 0).digest).await.unwrap().is_none(),
        "revoking the grant deletes its refresh tokens"
    );
}

/// A token written after its grant was revoked (a code replay or a disabled
/// user on another node) or purged is not stored, first or successor:
/// otherwise it would outlive the revocation entry.
pub async fn no_refresh_token_outlives_its_grant(s: Arc<dyn Store>) {
    assert!(!s.insert_refresh(&refresh(1, 500)).await.unwrap(), "no grant yet");
    assert!(s.get_refresh(&refresh(1, 0).digest).await.unwrap().is_none());
    let first = family(&s).await;
    s.revoke(&revocation(RevokedToken::Grant("grant-1".into()), 1000)).await.unwrap();
    assert!(!s.insert_refresh(&refresh(2, 500)).await.unwrap(), "the grant was revoked");
    assert!(s.get_refresh(&refresh(2, 0).digest).await.unwrap().is_none());
    assert_eq!(s.rotate_refresh(&first.digest, 200, 210, b"s", &refresh(3, 600)).await.unwrap(), Rotation::Gone);
    assert!(s.get_refresh(&refresh(3, 0).digest).await.unwrap().is_none());

    // The grant purged (it ended at 1000) while a token claiming a longer
    // family is still stored: that token cannot rotate.
    s.insert_code(&code(2, "c1", 160)).await.unwrap();
    s.redeem_code(&code(2, "c1", 160).digest, &"c1".into(), 110, 1000).await.unwrap();
    let grant = code(2, "c1", 160).grant_id;
    let long = RefreshToken { grant_id: grant.clone(), expires_at: 1500, family_expires_at: 2000, ..refresh(4, 0) };
    assert!(s.insert_refresh(&long).await.unwrap());
    s.purge_expired(1100, 100).await.unwrap();
    assert!(s.get_grant(&grant).await.unwrap().is_none());
    let next = RefreshToken { grant_id: grant, expires_at: 1600, family_expires_at: 2000, ..refresh(5, 0) };
    assert_eq!(s.rotate_refresh(&long.digest, 1100, 1110, b"s", &next).await.unwrap(), Rotation::Gone);
    assert!(s.get_refresh(&next.digest).await.unwrap().is_none());
    assert_eq!(s.get_refresh(&long.digest).await.unwrap().unwrap().rotated_at, None, "nothing changed");
}

pub async fn concurrent_rotations_exactly_one(s: Arc<dyn Store>) {
    let first = family(&s).await;
    let mut tasks = Vec::new();
    for n in 0..50u8 {
        let s = s.clone();
        let d = first.digest;
        tasks.push(tokio::spawn(async move { s.rotate_refresh(&d, 200, 210, &[n], &refresh(10 + n, 600)).await }));
    }
    let mut rotated = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            Rotation::Rotated => rotated += 1,
            Rotation::AlreadyRotated(_) => {}
            Rotation::Gone => panic!("a live token was reported gone"),
        }
    }
    assert_eq!(rotated, 1);
}

/// Many families rotating at once, each token presented twice and one
/// family revoked meanwhile: every live token rotates exactly once with
/// its own successor, the other presentation sees that successor, and the
/// revoked family rotates nothing (a backend that gathers rotations into
/// batches must keep each row's own outcome).
pub async fn concurrent_rotations_of_many_families(s: Arc<dyn Store>) {
    const FAMILIES: u8 = 40;
    let grant = |g: u8| family_grant(format!("fam-{g}"));
    let token =
        |g: u8, i: u8| RefreshToken { digest: Digest::of(&[g, i, 9]), grant_id: format!("fam-{g}"), ..refresh(0, 500) };
    for g in 0..FAMILIES {
        s.insert_grant(&grant(g)).await.unwrap();
        assert!(s.insert_refresh(&token(g, 0)).await.unwrap());
    }
    s.revoke(&revocation(RevokedToken::Grant("fam-0".into()), 1000)).await.unwrap();
    let mut tasks = Vec::new();
    for g in 0..FAMILIES {
        for i in 1..=2u8 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let r = s.rotate_refresh(&token(g, 0).digest, 200, 210, &[g, i], &token(g, i)).await.unwrap();
                (g, i, r)
            }));
        }
    }
    let mut winner = [0u8; FAMILIES as usize];
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    for (g, i, r) in &seen {
        match r {
            Rotation::Gone => assert_eq!(*g, 0, "family {g}: a live token was reported gone"),
            Rotation::Rotated => {
                assert_ne!(*g, 0, "the revoked family rotated");
                assert_eq!(winner[*g as usize], 0, "family {g} rotated twice");
                winner[*g as usize] = *i;
            }
            Rotation::AlreadyRotated(_) => assert_ne!(*g, 0, "the revoked family rotated"),
        }
    }
    for (g, i, r) in &seen {
        if let Rotation::AlreadyRotated(st) = r {
            let w = winner[*g as usize];
            assert!(w != 0 && w != *i, "family {g}: seen rotated, but nobody else won");
            assert_eq!(st.successor.as_deref(), Some(&[*g, w][..]), "family {g}: another family's successor");
        }
    }
    for g in 1..FAMILIES {
        let w = winner[g as usize];
        assert_ne!(w, 0, "family {g} never rotated");
        let spent = s.get_refresh(&token(g, 0).digest).await.unwrap().unwrap();
        assert_eq!(spent.successor.as_deref(), Some(&[g, w][..]), "family {g}: its own sealed successor");
        let next = s.get_refresh(&token(g, w).digest).await.unwrap().unwrap();
        assert_eq!(next.token.grant_id, format!("fam-{g}"));
        assert!(s.get_refresh(&token(g, 3 - w).digest).await.unwrap().is_none(), "family {g}: the loser's successor");
    }
    for i in 1..=2 {
        assert!(s.get_refresh(&token(0, i).digest).await.unwrap().is_none(), "the revoked family got a successor");
    }
}

pub async fn refresh_purge_drops_expired_and_sealed_successors(s: Arc<dyn Store>) {
    let first = family(&s).await;
    s.rotate_refresh(&first.digest, 200, 210, b"sealed", &refresh(2, 600)).await.unwrap();
    s.purge_expired(300, 100).await.unwrap();
    let spent = s.get_refresh(&first.digest).await.unwrap().unwrap();
    assert_eq!(spent.successor, None, "sealed successors live only for the retry window");
    s.purge_expired(500, 100).await.unwrap();
    assert!(s.get_refresh(&first.digest).await.unwrap().is_none());
    assert!(s.get_refresh(&refresh(2, 0).digest).await.unwrap().is_some());
}

/// A refresh token is read with its user's standing, so a refresh needs one read.
pub async fn refresh_reads_its_users_standing(s: Arc<dyn Store>) {
    let first = family(&s).await;
    let active = |s: Arc<dyn Store>, d: Digest| async move { s.get_refresh(&d).await.unwrap().unwrap().user_active };
    assert!(!active(s.clone(), first.digest).await, "no such user");
    let mut u = crate::conformance_accounts::user("u1", "alice");
    s.insert_user(&u).await.unwrap();
    assert!(active(s.clone(), first.digest).await);
    u.disabled = true;
    assert!(s.update_user(&u).await.unwrap());
    assert!(!active(s.clone(), first.digest).await, "disabled");
    u.disabled = false;
    assert!(s.update_user(&u).await.unwrap());
    let second = refresh(2, 600);
    assert_eq!(s.rotate_refresh(&first.digest, 200, 210, b"sealed-2", &second).await.unwrap(), Rotation::Rotated);
    match s.rotate_refresh(&first.digest, 205, 215, b"sealed-x", &refresh(9, 600)).await.unwrap() {
        Rotation::AlreadyRotated(st) => assert!(st.user_active, "a lost race reads the standing too"),
        other => panic!("a second rotation must not happen: {other:?}"),
    }
}
