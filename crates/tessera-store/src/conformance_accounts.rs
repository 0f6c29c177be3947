//! Conformance cases for the sign-in traits (users, scopes, sessions,
//! consent, codes and grants). Run through `conformance_suite!` with the rest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use tessera_core::amr::Amr;
use tessera_core::pkce::CodeChallenge;
use tessera_core::scope::ScopeSet;
use tessera_core::secret::Digest;
use tessera_core::store::{
    AuthCode, Consent, GrantFilter, Redemption, RevokedToken, ScopeInfo, Session, Store, StoreError, User,
};

use crate::conformance::{client, revocation, token};

/// A scope set from a string known to parse.
pub fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse(s).unwrap()
}

pub fn user(id: &str, username: &str) -> User {
    User {
        id: id.into(),
        username: username.into(),
        email: format!("{username}@example.com"),
        name: Some(format!("{username} Example")),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        disabled: false,
        created_at: 10,
        updated_at: 10,
    }
}

pub fn session(n: u8, user_id: &str, expires_at: i64) -> Session {
    Session {
        id: format!("s{n}"),
        digest: Digest::of(&[n, 1]),
        user_id: user_id.into(),
        auth_time: 50,
        amr: Amr::Pwd.into(),
        created_at: 50 + i64::from(n),
        expires_at,
    }
}

pub fn code(n: u8, client_id: &str, expires_at: i64) -> AuthCode {
    AuthCode {
        digest: Digest::of(&[n, 2]),
        client_id: client_id.into(),
        user_id: "u1".into(),
        grant_id: format!("grant-{n}"),
        redirect_uri: "https://app.example/cb".into(),
        code_challenge: CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM").unwrap(),
        scope: scopes("openid profile"),
        audience: vec!["https://api.example".into()],
        nonce: Some("n-0S6_WzA2Mj".into()),
        auth_time: 40,
        amr: Amr::Pwd.into(),
        session_id: "s1".into(),
        created_at: 100,
        expires_at,
        dpop_jkt: None,
    }
}

pub async fn users_round_trip(s: Arc<dyn Store>) {
    s.insert_user(&user("u1", "alice")).await.unwrap();
    s.insert_user(&user("u2", "bob")).await.unwrap();
    assert_eq!(s.insert_user(&user("u3", "alice")).await, Err(StoreError::Conflict), "usernames are unique");
    assert_eq!(s.insert_user(&user("u1", "carol")).await, Err(StoreError::Conflict), "ids are unique");
    assert_eq!(s.get_user(&"u1".into()).await.unwrap(), Some(user("u1", "alice")));
    assert_eq!(s.find_user("bob").await.unwrap().map(|u| u.id), Some("u2".into()));
    assert_eq!(s.find_user("nobody").await.unwrap(), None);
    let names: Vec<String> = s.list_users().await.unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(names, vec!["alice", "bob"]);
    let mut changed = user("u1", "alice");
    changed.disabled = true;
    changed.password_hash = "$argon2id$new".into();
    changed.updated_at = 20;
    assert!(s.update_user(&changed).await.unwrap());
    assert_eq!(s.get_user(&"u1".into()).await.unwrap(), Some(changed));
    assert!(!s.update_user(&user("nope", "x")).await.unwrap());
    s.insert_session(&session(1, "u1", 1000)).await.unwrap();
    s.put_consent(&Consent { user_id: "u1".into(), client_id: "c1".into(), scope: scopes("a"), granted_at: 1 })
        .await
        .unwrap();
    assert!(s.delete_user(&"u1".into()).await.unwrap());
    assert!(!s.delete_user(&"u1".into()).await.unwrap());
    assert_eq!(s.get_session(&session(1, "u1", 0).digest).await.unwrap(), None, "sessions go with the user");
    assert_eq!(s.get_consent(&"u1".into(), &"c1".into()).await.unwrap(), None, "consent goes with the user");
}

pub async fn scopes_round_trip(s: Arc<dyn Store>) {
    let sc = ScopeInfo { name: "inventory:read".into(), description: "See stock levels".into(), created_at: 5 };
    s.insert_scope(&sc).await.unwrap();
    assert_eq!(s.insert_scope(&sc).await, Err(StoreError::Conflict));
    assert_eq!(s.list_scopes().await.unwrap(), vec![sc]);
    assert!(s.delete_scope("inventory:read").await.unwrap());
    assert!(!s.delete_scope("inventory:read").await.unwrap());
    assert!(s.list_scopes().await.unwrap().is_empty());
}

pub async fn sessions_round_trip(s: Arc<dyn Store>) {
    for n in 1..=3 {
        s.insert_session(&session(n, if n < 3 { "u1" } else { "u2" }, 1000)).await.unwrap();
    }
    assert_eq!(s.get_session(&session(1, "u1", 1000).digest).await.unwrap(), Some(session(1, "u1", 1000)));
    let ids: Vec<String> = s.list_sessions(&"u1".into()).await.unwrap().into_iter().map(|x| x.id).collect();
    assert_eq!(ids, vec!["s1", "s2"]);
    assert!(s.delete_session(&session(1, "u1", 0).digest).await.unwrap());
    assert!(!s.delete_session(&session(1, "u1", 0).digest).await.unwrap());
    assert_eq!(s.delete_user_sessions(&"u1".into()).await.unwrap(), 1);
    assert!(s.get_session(&session(3, "u2", 0).digest).await.unwrap().is_some(), "other users keep theirs");
}

pub async fn consent_is_replaced(s: Arc<dyn Store>) {
    let c =
        |scope: &str, t| Consent { user_id: "u1".into(), client_id: "c1".into(), scope: scopes(scope), granted_at: t };
    assert_eq!(s.get_consent(&"u1".into(), &"c1".into()).await.unwrap(), None);
    s.put_consent(&c("openid", 1)).await.unwrap();
    s.put_consent(&c("openid profile", 2)).await.unwrap();
    assert_eq!(s.get_consent(&"u1".into(), &"c1".into()).await.unwrap(), Some(c("openid profile", 2)));
    assert_eq!(s.get_consent(&"u1".into(), &"c2".into()).await.unwrap(), None);
}

pub async fn codes_redeem_once(s: Arc<dyn Store>) {
    let c = code(1, "c1", 160);
    s.insert_code(&c).await.unwrap();
    assert_eq!(s.insert_code(&c).await, Err(StoreError::Conflict));
    assert_eq!(s.redeem_code(&c.digest, &"c2".into(), 110, 1000).await.unwrap(), Redemption::WrongClient);
    assert_eq!(s.redeem_code(&c.digest, &"c1".into(), 110, 1000).await.unwrap(), Redemption::Redeemed(c.clone()));
    let g = s.get_grant("grant-1").await.unwrap().expect("redemption stores the grant");
    assert_eq!(
        (g.user_id.as_str(), g.client_id.as_str(), g.scope.to_string().as_str()),
        ("u1", "c1", "openid profile")
    );
    assert_eq!((g.created_at, g.expires_at, g.session_id.as_deref()), (110, 1000, Some("s1")));
    assert_eq!(s.redeem_code(&c.digest, &"c1".into(), 111, 1000).await.unwrap(), Redemption::Replayed(c.clone()));
    assert_eq!(s.redeem_code(&c.digest, &"c2".into(), 111, 1000).await.unwrap(), Redemption::Replayed(c));
    let late = code(2, "c1", 160);
    s.insert_code(&late).await.unwrap();
    assert_eq!(s.redeem_code(&late.digest, &"c1".into(), 160, 1000).await.unwrap(), Redemption::Unknown, "expired");
    assert_eq!(s.redeem_code(&Digest::of(b"none"), &"c1".into(), 110, 1000).await.unwrap(), Redemption::Unknown);
}

pub async fn concurrent_redemptions_exactly_one(s: Arc<dyn Store>) {
    let c = code(1, "c1", 160);
    s.insert_code(&c).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = s.clone();
        let d = c.digest;
        tasks.push(tokio::spawn(async move { s.redeem_code(&d, &"c1".into(), 110, 1000).await }));
    }
    let mut redeemed = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            Redemption::Redeemed(_) => redeemed += 1,
            Redemption::Replayed(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(redeemed, 1);
}

pub async fn revoking_a_grant_deletes_its_tokens(s: Arc<dyn Store>) {
    s.insert_code(&code(1, "c1", 160)).await.unwrap();
    s.redeem_code(&code(1, "c1", 160).digest, &"c1".into(), 110, 1000).await.unwrap();
    let mut mine = token(1, 1000);
    mine.grant_id = Some("grant-1".into());
    let other = token(3, 1000); // grant g3
    s.insert_token(&mine).await.unwrap();
    s.insert_token(&other).await.unwrap();
    let seq = s.revoke(&revocation(RevokedToken::Grant("grant-1".into()), 1000)).await.unwrap();
    assert_eq!(s.get_token(&mine.digest).await.unwrap(), None);
    assert!(s.get_token(&other.digest).await.unwrap().is_some(), "other grants' tokens stay");
    assert_eq!(s.get_grant("grant-1").await.unwrap(), None);
    let feed = s.revocations_after(seq - 1, 10).await.unwrap();
    assert_eq!(feed[0].revocation.token, RevokedToken::Grant("grant-1".into()));
}

pub async fn grants_filter_and_purge(s: Arc<dyn Store>) {
    for (n, client) in [(1, "c1"), (2, "c2"), (3, "c1")] {
        s.insert_code(&code(n, client, 160)).await.unwrap();
        s.redeem_code(&code(n, client, 160).digest, &client.into(), 110, 500 + i64::from(n)).await.unwrap();
    }
    let ids = |f: GrantFilter| {
        let s = s.clone();
        async move { s.list_grants(&f).await.unwrap().into_iter().map(|g| g.id).collect::<Vec<_>>() }
    };
    assert_eq!(ids(GrantFilter::default()).await.len(), 3);
    let implicit = tessera_core::store::Grant {
        id: "grant-9".into(),
        user_id: "u2".into(),
        client_id: "c3".into(),
        scope: scopes("openid"),
        session_id: None,
        created_at: 120,
        expires_at: 400,
    };
    s.insert_grant(&implicit).await.unwrap();
    assert_eq!(s.insert_grant(&implicit).await, Err(StoreError::Conflict));
    assert_eq!(s.get_grant("grant-9").await.unwrap(), Some(implicit));
    assert_eq!(ids(GrantFilter { user_id: Some("u2".into()), client_id: None }).await, vec!["grant-9"]);
    assert_eq!(ids(GrantFilter { client_id: Some("c1".into()), user_id: None }).await, vec!["grant-1", "grant-3"]);
    assert!(ids(GrantFilter { user_id: Some("u9".into()), client_id: None }).await.is_empty());
    s.insert_session(&session(1, "u1", 300)).await.unwrap();
    let p = s.purge_expired(502, 100).await.unwrap();
    // Three grants and the session; the used codes are kept a day to catch replays.
    assert_eq!(p.other, 4);
    assert_eq!(ids(GrantFilter::default()).await, vec!["grant-3"]);
    assert!(matches!(
        s.redeem_code(&code(1, "c1", 160).digest, &"c1".into(), 600, 0).await.unwrap(),
        Redemption::Replayed(_)
    ));
    let p = s.purge_expired(160 + 24 * 3600, 100).await.unwrap();
    assert_eq!(p.other, 4, "three codes and the last grant");
    assert_eq!(s.redeem_code(&code(1, "c1", 160).digest, &"c1".into(), 90_000, 0).await.unwrap(), Redemption::Unknown);
}

pub async fn deleting_a_client_forgets_its_grants(s: Arc<dyn Store>) {
    s.insert_client(&client("c1", 1)).await.unwrap();
    s.insert_code(&code(1, "c1", 160)).await.unwrap();
    s.insert_code(&code(2, "c1", 160)).await.unwrap();
    s.redeem_code(&code(1, "c1", 160).digest, &"c1".into(), 110, 1000).await.unwrap();
    s.put_consent(&Consent { user_id: "u1".into(), client_id: "c1".into(), scope: scopes("a"), granted_at: 1 })
        .await
        .unwrap();
    let rt = crate::conformance_refresh::refresh(1, 500);
    s.insert_refresh(&rt).await.unwrap();
    assert!(s.delete_client(&"c1".into()).await.unwrap());
    assert!(s.get_refresh(&rt.digest).await.unwrap().is_none(), "its refresh families end");
    assert!(s.list_grants(&GrantFilter::default()).await.unwrap().is_empty());
    assert_eq!(s.get_consent(&"u1".into(), &"c1".into()).await.unwrap(), None);
    assert_eq!(s.redeem_code(&code(2, "c1", 160).digest, &"c1".into(), 110, 1000).await.unwrap(), Redemption::Unknown);
}
