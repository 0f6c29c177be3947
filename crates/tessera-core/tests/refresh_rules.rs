//! Refresh-token rotation under an injected clock (no sleeps): the retry
//! window, reuse after it (the family dies), narrowing, client binding,
//! idle and absolute lifetimes, revocation, and disabled users.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{PW, T0, form};
use tessera_core::Authority;
use tessera_core::client::NewClient;
use tessera_core::clock::ManualClock;
use tessera_core::endpoint::Lookup;
use tessera_core::endpoint::authorize::{Interaction, Step};
use tessera_core::secret::{REFRESH_PREFIX, Secret};
use tessera_core::store::RefreshToken;
use tessera_core::store::memory::MemoryStore;
use tessera_core::store::prelude::*;
use tessera_proto::{ErrorCode, TokenResponse};

const DAY: i64 = 86_400;

struct F {
    a: Authority,
    clock: Arc<ManualClock>,
    store: Arc<MemoryStore>,
}

async fn fixture(extra: impl Fn(&mut NewClient)) -> F {
    let (a, clock, store) = common::start(common::settings(), 9).await;
    for id in ["app", "other"] {
        let grants = ["authorization_code", "refresh_token"];
        let mut n = common::public_client(id, id, &grants, "openid profile offline_access");
        extra(&mut n);
        common::register(&store, n).await;
    }
    common::add_alice(&a, &store).await;
    F { a, clock, store }
}

/// Signs in with `scope` and redeems the code.
async fn first_pair(f: &F, scope: &str) -> TokenResponse {
    let (_, who) = f.a.login("alice", PW, "10.0.0.1").await.unwrap();
    let q = common::code_request(&format!("&scope={scope}"));
    let req = f.a.parse_authorization(q.as_bytes()).await.unwrap();
    let allow = Interaction { started_at: Some(T0), consent: Some(true) };
    let Step::Done(r) = f.a.authorize(req, Some(who), allow).await.unwrap() else { panic!("no code") };
    f.a.token(None, &form(&common::redeem_body("app", &common::code_of(&r.0)))).await.unwrap()
}

async fn refresh(f: &F, client: &str, token: &str, scope: Option<&str>) -> Result<TokenResponse, ErrorCode> {
    let mut body = format!("grant_type=refresh_token&client_id={client}&refresh_token={token}");
    if let Some(s) = scope {
        body.push_str(&format!("&scope={s}"));
    }
    f.a.token(None, &form(&body)).await.map_err(|e| e.code)
}

async fn active(f: &F, access_token: &str) -> bool {
    matches!(f.a.lookup(access_token).await.unwrap(), Lookup::Active(..))
}

#[tokio::test]
async fn only_offline_access_gets_a_refresh_token() {
    let f = fixture(|_| {}).await;
    assert!(first_pair(&f, "openid").await.refresh_token.is_none());
    let t = first_pair(&f, "openid+offline_access").await;
    assert!(t.refresh_token.unwrap().starts_with("tsr_rt_"));
}

#[tokio::test]
async fn retry_within_the_window_gets_the_same_pair_then_reuse_kills_the_family() {
    let f = fixture(|_| {}).await;
    let t0 = first_pair(&f, "openid+offline_access").await;
    let rt0 = t0.refresh_token.clone().unwrap();
    let t1 = refresh(&f, "app", &rt0, None).await.unwrap();
    let rt1 = t1.refresh_token.clone().unwrap();
    assert_ne!(rt1, rt0, "rotated");
    f.clock.advance(9);
    let again = refresh(&f, "app", &rt0, None).await.unwrap();
    assert_eq!(
        (again.access_token.as_str(), again.refresh_token.as_deref()),
        (t1.access_token.as_str(), Some(rt1.as_str()))
    );
    assert_eq!(again.expires_in, t1.expires_in - 9);
    f.clock.advance(1); // the 10 s window has closed: this is theft
    assert_eq!(refresh(&f, "app", &rt0, None).await.err(), Some(ErrorCode::InvalidGrant));
    assert_eq!(refresh(&f, "app", &rt1, None).await.err(), Some(ErrorCode::InvalidGrant), "the whole family is dead");
    assert!(!active(&f, &t1.access_token).await && !active(&f, &t0.access_token).await, "its access tokens too");
}

#[tokio::test]
async fn zero_grace_means_any_repeat_is_reuse() {
    let f = fixture(|c| c.refresh_grace = Some(0)).await;
    let rt0 = first_pair(&f, "openid+offline_access").await.refresh_token.unwrap();
    let rt1 = refresh(&f, "app", &rt0, None).await.unwrap().refresh_token.unwrap();
    assert_eq!(refresh(&f, "app", &rt0, None).await.err(), Some(ErrorCode::InvalidGrant));
    assert_eq!(refresh(&f, "app", &rt1, None).await.err(), Some(ErrorCode::InvalidGrant));
}

#[tokio::test]
async fn scope_narrows_never_widens_and_another_client_changes_nothing() {
    let f = fixture(|_| {}).await;
    let rt0 = first_pair(&f, "openid+offline_access").await.refresh_token.unwrap();
    assert_eq!(refresh(&f, "app", &rt0, Some("openid+profile")).await.err(), Some(ErrorCode::InvalidScope));
    assert_eq!(refresh(&f, "other", &rt0, None).await.err(), Some(ErrorCode::InvalidGrant));
    let t = refresh(&f, "app", &rt0, Some("openid")).await.unwrap();
    assert_eq!(t.scope.as_deref(), Some("openid"), "the stranger's attempt revoked nothing");
    let rt1 = t.refresh_token.unwrap();
    assert_eq!(refresh(&f, "app", &rt1, Some("openid+profile")).await.err(), Some(ErrorCode::InvalidScope));
    // RFC 6749 §6: the narrowing applied to that access token only; the
    // successor keeps the scope first granted.
    let t2 = refresh(&f, "app", &rt1, Some("openid+offline_access")).await.unwrap();
    assert_eq!(t2.scope.as_deref(), Some("openid offline_access"));
    let t3 = refresh(&f, "app", &t2.refresh_token.unwrap(), None).await.unwrap();
    assert_eq!(t3.scope.as_deref(), Some("openid offline_access"));
}

#[tokio::test]
async fn idle_and_absolute_lifetimes() {
    let f = fixture(|_| {}).await;
    let rt = first_pair(&f, "openid+offline_access").await.refresh_token.unwrap();
    f.clock.advance(14 * DAY);
    assert_eq!(refresh(&f, "app", &rt, None).await.err(), Some(ErrorCode::InvalidGrant), "idle for 14 days");

    let mut rt = first_pair(&f, "openid+offline_access").await.refresh_token.unwrap();
    for _ in 0..29 {
        f.clock.advance(DAY);
        rt = refresh(&f, "app", &rt, None).await.unwrap().refresh_token.unwrap();
    }
    f.clock.advance(DAY);
    assert_eq!(refresh(&f, "app", &rt, None).await.err(), Some(ErrorCode::InvalidGrant), "30 days after sign-in");
}

#[tokio::test]
async fn revoking_a_refresh_token_or_disabling_the_user_ends_the_family() {
    let f = fixture(|_| {}).await;
    let t0 = first_pair(&f, "openid+offline_access").await;
    let rt0 = t0.refresh_token.unwrap();
    f.a.revoke(None, &form(&format!("client_id=other&token={rt0}"))).await.unwrap();
    assert!(active(&f, &t0.access_token).await, "another client cannot revoke it");
    f.a.revoke(None, &form(&format!("client_id=app&token={rt0}&token_type_hint=refresh_token"))).await.unwrap();
    assert_eq!(refresh(&f, "app", &rt0, None).await.err(), Some(ErrorCode::InvalidGrant));
    assert!(!active(&f, &t0.access_token).await, "RFC 7009 §2.1: the grant's access tokens go too");

    let rt = first_pair(&f, "openid+offline_access").await.refresh_token.unwrap();
    let user = f.store.find_user("alice").await.unwrap().unwrap();
    f.a.set_user_disabled(&user, true).await.unwrap();
    assert_eq!(refresh(&f, "app", &rt, None).await.err(), Some(ErrorCode::InvalidGrant));
}

#[tokio::test]
async fn a_disabled_user_cannot_refresh_even_with_a_grant_left_behind() {
    let f = fixture(|_| {}).await;
    let rt = first_pair(&f, "openid+offline_access").await.refresh_token.unwrap();
    // Disabled while this grant was being made on another node: the grant
    // escaped the revocation that disabling runs.
    let mut user = f.store.find_user("alice").await.unwrap().unwrap();
    user.disabled = true;
    f.store.update_user(&user).await.unwrap();
    assert_eq!(refresh(&f, "app", &rt, None).await.err(), Some(ErrorCode::InvalidGrant));
}

#[tokio::test]
async fn a_refresh_token_written_after_its_grant_was_revoked_never_works() {
    let f = fixture(|_| {}).await;
    let rt = first_pair(&f, "openid+offline_access").await.refresh_token.unwrap();
    let family = f.store.get_refresh(&Secret::new(rt).digest()).await.unwrap().unwrap().token;
    f.a.revoke_grant(&family.grant_id, &"app".into()).await.unwrap();
    // The revocation entry expires after a day; a token the winner of a
    // code-replay race writes after the revocation must not wake up then.
    f.clock.advance(DAY + 1);
    f.a.purge_expired(1000).await.unwrap();
    let late = Secret::generate(f.a.rng(), REFRESH_PREFIX);
    let token = RefreshToken { digest: late.digest(), issued_at: T0 + DAY + 1, ..family };
    let _ = f.store.insert_refresh(&token).await;
    assert_eq!(refresh(&f, "app", late.expose(), None).await.err(), Some(ErrorCode::InvalidGrant));
}

#[tokio::test]
async fn a_new_password_ends_grants_and_refresh_tokens() {
    let f = fixture(|_| {}).await;
    let t = first_pair(&f, "openid+offline_access").await;
    let rt = t.refresh_token.unwrap();
    let user = f.store.find_user("alice").await.unwrap().unwrap();
    let hash = f.a.passwords().hash(f.a.rng(), "a brand new passphrase here").await.unwrap();
    assert_eq!(f.a.set_password(&user, hash).await.unwrap(), 1, "one grant revoked");
    assert_eq!(refresh(&f, "app", &rt, None).await.err(), Some(ErrorCode::InvalidGrant));
    assert!(!active(&f, &t.access_token).await, "its access tokens too");
    assert!(f.store.list_sessions(&user.id).await.unwrap().is_empty());
    // The new password works.
    let (_, _) = f.a.login("alice", "a brand new passphrase here", "10.0.0.1").await.unwrap();
}
