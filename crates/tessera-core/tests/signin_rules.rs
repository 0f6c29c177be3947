//! The sign-in rules that depend on time, checked with an injected clock
//! (no sleeps): code lifetime, session lifetime, `max_age`, throttling
//! windows, and consent that covers later, narrower requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{PW, T0, form};
use tessera_core::clock::ManualClock;
use tessera_core::endpoint::authorize::{Interaction, SignedIn, Step};
use tessera_core::endpoint::session::LoginError;
use tessera_core::ids::ClientId;
use tessera_core::scope::{MAX_SCOPES, ScopeSet};
use tessera_core::store::memory::MemoryStore;
use tessera_core::store::prelude::*;
use tessera_core::throttle::{FREE_FAILURES, WINDOW};
use tessera_core::{Authority, Settings};
use tessera_proto::ErrorCode;

struct F {
    a: Arc<Authority>,
    clock: Arc<ManualClock>,
    client: String,
    store: Arc<MemoryStore>,
}

fn settings() -> Settings {
    Settings { session_ttl: 3600, ..common::settings() }
}

/// Another server process on the same store (a second node).
async fn node(f: &F) -> Authority {
    common::node(settings(), &f.store, &f.clock, 6).await
}

async fn fixture() -> F {
    let (a, clock, store) = common::start(settings(), 5).await;
    let app = common::public_client("app", "App", &["authorization_code"], "openid profile email");
    let client = common::register(&store, app).await;
    common::add_alice(&a, &store).await;
    F { a: Arc::new(a), clock, client, store }
}

fn request(extra: &str) -> String {
    let scope = if extra.contains("scope=") { "" } else { "&scope=openid" };
    common::code_request(&format!("{scope}{extra}"))
}

async fn step(f: &F, extra: &str, who: Option<SignedIn>, ix: Interaction) -> Step {
    let req = f.a.parse_authorization(request(extra).as_bytes()).await.unwrap();
    f.a.authorize(req, who, ix).await.unwrap()
}

/// Signs in, consents, and returns the code.
async fn code(f: &F) -> (String, SignedIn) {
    let (_, who) = f.a.login("alice", PW, "10.0.0.1").await.unwrap();
    let allow = Interaction { started_at: Some(T0), consent: Some(true) };
    let Step::Done(r) = step(f, "", Some(who.clone()), allow).await else { panic!("no code") };
    (common::code_of(&r.0), who)
}

async fn redeem(f: &F, code: &str) -> Result<tessera_proto::TokenResponse, ErrorCode> {
    f.a.token(None, &form(&common::redeem_body(&f.client, code))).await.map_err(|e| e.code)
}

#[tokio::test]
async fn a_code_lives_sixty_seconds() {
    let f = fixture().await;
    let (c, _) = code(&f).await;
    f.clock.advance(59);
    assert!(redeem(&f, &c).await.is_ok());
    let (c, _) = code(&f).await;
    f.clock.advance(60);
    assert_eq!(redeem(&f, &c).await.err(), Some(ErrorCode::InvalidGrant));
}

#[tokio::test]
async fn sessions_end_and_max_age_asks_again() {
    let f = fixture().await;
    let (secret, who) = f.a.login("alice", PW, "10.0.0.1").await.unwrap();
    assert!(f.a.session(secret.expose()).await.unwrap().is_some());
    f.clock.advance(100);
    let ok = Interaction { started_at: None, consent: Some(true) };
    assert!(matches!(step(&f, "&max_age=100", Some(who.clone()), ok).await, Step::Done(_)));
    f.clock.advance(1);
    assert!(matches!(step(&f, "&max_age=100", Some(who.clone()), ok).await, Step::Login(_)));
    f.clock.advance(3600 - 101);
    assert!(f.a.session(secret.expose()).await.unwrap().is_none(), "sessions last session_ttl");
    assert!(f.a.session("tsr_ss_forged").await.unwrap().is_none());
}

/// Posting the consent form is not a sign-in: `prompt=login` and `max_age`
/// are met only by a session authenticated since the request arrived.
#[tokio::test]
async fn consent_does_not_stand_in_for_a_fresh_sign_in() {
    let f = fixture().await;
    let (_, who) = f.a.login("alice", PW, "10.0.0.1").await.unwrap();
    f.clock.advance(60);
    let allow = Interaction { started_at: Some(T0 + 60), consent: Some(true) };
    assert!(matches!(step(&f, "&prompt=login", Some(who.clone()), allow).await, Step::Login(_)));
    assert!(matches!(step(&f, "&max_age=0", Some(who.clone()), allow).await, Step::Login(_)));
    assert!(matches!(step(&f, "&max_age=30", Some(who), allow).await, Step::Login(_)));
    // Signed in during this request's flow: consent a few seconds later completes it.
    let (_, fresh) = f.a.login("alice", PW, "10.0.0.1").await.unwrap();
    f.clock.advance(5);
    assert!(matches!(step(&f, "&prompt=login", Some(fresh.clone()), allow).await, Step::Done(_)));
    assert!(matches!(step(&f, "&max_age=0", Some(fresh), allow).await, Step::Done(_)));
}

#[tokio::test]
async fn consent_covers_later_narrower_requests_only() {
    let f = fixture().await;
    let (_, who) = f.a.login("alice", PW, "10.0.0.1").await.unwrap();
    let none = Interaction::default();
    assert!(matches!(step(&f, "", Some(who.clone()), none).await, Step::Consent { .. }));
    let allow = Interaction { started_at: None, consent: Some(true) };
    let wide = "&scope=openid+profile+email";
    assert!(matches!(step(&f, wide, Some(who.clone()), allow).await, Step::Done(_)));
    assert!(matches!(step(&f, "&scope=openid+email", Some(who.clone()), none).await, Step::Done(_)));
    assert!(matches!(step(&f, "&prompt=consent", Some(who), none).await, Step::Consent { .. }));
}

/// Remembered consent holds only what the client may ask for now: when a
/// client's scopes are replaced and the user allows the new ones, the ones
/// it lost are dropped, so the union stays within `MAX_SCOPES` (and every
/// store reads it back) and still covers the later requests it should.
#[tokio::test]
async fn remembered_consent_stays_within_what_the_client_may_ask() {
    let f = fixture().await;
    let id = ClientId::from(f.client.as_str());
    let names = |p: &str| (0..MAX_SCOPES).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
    let (_, who) = f.a.login("alice", PW, "10.0.0.1").await.unwrap();
    let allow = Interaction { started_at: None, consent: Some(true) };
    for generation in ["old:", "new:"] {
        let mut c = f.store.get_client(&id).await.unwrap().unwrap();
        c.settings.scope = ScopeSet::parse(&names(generation).join(" ")).unwrap();
        assert!(f.store.set_client_settings(&id, &c.settings, T0).await.unwrap());
        let all = format!("&scope={}", names(generation).join("+"));
        assert!(matches!(step(&f, &all, Some(who.clone()), allow).await, Step::Done(_)));
    }
    let remembered = f.store.get_consent(&who.user.id, &id).await.unwrap().unwrap();
    assert_eq!(remembered.scope.iter().collect::<Vec<_>>(), names("new:"), "the scopes the client lost are dropped");
    assert_eq!(ScopeSet::parse(&remembered.scope.to_string()), Ok(remembered.scope));
    let some = format!("&scope={}", names("new:")[..10].join("+"));
    assert!(matches!(step(&f, &some, Some(who), Interaction::default()).await, Step::Done(_)), "not asked again");
}

#[tokio::test]
async fn throttling_waits_then_forgives() {
    let f = fixture().await;
    for _ in 0..FREE_FAILURES {
        assert_eq!(f.a.login("alice", "wrong password!!", "10.0.0.2").await.err(), Some(LoginError::Invalid));
    }
    assert_eq!(f.a.login("alice", PW, "10.0.0.3").await.err(), Some(LoginError::Throttled(1)), "per account");
    assert_eq!(f.a.login("bob", PW, "10.0.0.2").await.err(), Some(LoginError::Throttled(1)), "per address");
    f.clock.advance(1);
    assert!(f.a.login("alice", PW, "10.0.0.3").await.is_ok());
    // Unknown users are throttled the same way: nothing tells them apart.
    for _ in 0..FREE_FAILURES + 3 {
        let _ = f.a.login("ghost", "whatever whatever", "10.0.0.4").await;
        f.clock.advance(1);
    }
    assert!(matches!(f.a.login("ghost", "x", "10.0.0.5").await, Err(LoginError::Throttled(_))));
    f.clock.advance(WINDOW);
    assert_eq!(f.a.login("ghost", "x", "10.0.0.5").await.err(), Some(LoginError::Invalid));
}

/// A burst of concurrent guesses for one account, each from its own
/// address: every attempt is counted before its password is checked, so
/// only the free failures ever reach argon2 (the others are refused unheard).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_guesses_reaches_argon2_only_for_the_free_failures() {
    let f = fixture().await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..200u32 {
        let a = f.a.clone();
        set.spawn(async move { a.login("alice", "wrong password!!", &format!("10.9.{}.{}", i / 200, i % 200)).await });
    }
    let (mut checked, mut throttled) = (0, 0);
    while let Some(r) = set.join_next().await {
        match r.unwrap() {
            Err(LoginError::Invalid) => checked += 1,
            Err(LoginError::Throttled(_)) => throttled += 1,
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
    assert_eq!((checked, throttled), (FREE_FAILURES, 200 - FREE_FAILURES));
}

/// Malformed usernames (say, 64 KiB of text) are refused before any
/// account is looked up or counted; only the address pays.
#[tokio::test]
async fn malformed_usernames_count_against_the_address_only() {
    let f = fixture().await;
    let junk = "x".repeat(64 * 1024);
    for i in 0..FREE_FAILURES {
        let who = if i % 2 == 0 { junk.as_str() } else { "Bad Name With Spaces" };
        assert_eq!(f.a.login(who, PW, "10.0.0.7").await.err(), Some(LoginError::Invalid));
    }
    assert_eq!(f.a.login("alice", PW, "10.0.0.7").await.err(), Some(LoginError::Throttled(1)), "the address waits");
    assert!(f.a.login("alice", PW, "10.0.0.8").await.is_ok(), "the account was never counted");
}

/// On a shared store every node sees an account's failures: a guesser
/// who moves to another node behind the load balancer starts no fresh budget.
#[tokio::test]
async fn another_node_sees_the_accounts_failures() {
    let f = fixture().await;
    let b = node(&f).await;
    for i in 0..FREE_FAILURES {
        let a: &Authority = if i % 2 == 0 { &f.a } else { &b };
        assert_eq!(a.login("alice", "wrong password!!", &format!("10.0.1.{i}")).await.err(), Some(LoginError::Invalid));
    }
    assert_eq!(b.login("alice", PW, "10.0.2.1").await.err(), Some(LoginError::Throttled(1)));
    assert_eq!(f.a.login("alice", PW, "10.0.2.2").await.err(), Some(LoginError::Throttled(1)));
    f.clock.advance(1);
    assert!(b.login("alice", PW, "10.0.2.1").await.is_ok());
    assert!(f.a.login("alice", "wrong password!!", "10.0.2.3").await.is_err());
    assert!(f.a.login("alice", PW, "10.0.2.3").await.is_ok(), "a success on one node cleared the count on all");
}
