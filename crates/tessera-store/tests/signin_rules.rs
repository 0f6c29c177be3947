//! The sign-in rules that depend on time, checked with an injected clock
//! (no sleeps): code lifetime, session lifetime, `max_age`, throttling
//! windows, and consent that covers later, narrower requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use tessera_core::client::NewClient;
use tessera_core::clock::ManualClock;
use tessera_core::endpoint::authorize::{Interaction, SignedIn, Step};
use tessera_core::endpoint::session::LoginError;
use tessera_core::keys::{Algorithm, MasterKey};
use tessera_core::params::Params;
use tessera_core::pkce;
use tessera_core::random::SeededRandom;
use tessera_core::store::{AccountStore, Store};
use tessera_core::throttle::{FREE_FAILURES, WINDOW};
use tessera_core::user::NewUser;
use tessera_core::{Authority, Settings};
use tessera_proto::ErrorCode;
use tessera_store::MemoryStore;

const T0: i64 = 1_800_000_000;
const PW: &str = "correct horse battery staple";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

struct F {
    a: Authority,
    clock: Arc<ManualClock>,
    client: String,
}

async fn fixture() -> F {
    let clock = Arc::new(ManualClock::new(T0));
    let store = Arc::new(MemoryStore::new());
    let settings = Settings { signing_alg: Algorithm::EdDSA, session_ttl: 3600, ..Settings::new("https://as.example") };
    let a = Authority::start(
        settings,
        store.clone(),
        MasterKey::from_bytes([1; 32]),
        clock.clone(),
        Arc::new(SeededRandom::new(5)),
    )
    .await
    .unwrap();
    let (c, _) = NewClient {
        id: Some("app".into()),
        name: "App".into(),
        grant_types: vec!["authorization_code".into()],
        scope: "openid profile email".into(),
        redirect_uris: vec!["https://app.example/cb".into()],
        public: true,
        ..Default::default()
    }
    .build(&SeededRandom::new(2), T0)
    .unwrap();
    store.insert_client(&c).await.unwrap();
    let u = NewUser { username: "alice".into(), email: "alice@example.com".into(), name: None }
        .build(a.passwords(), a.rng(), PW, T0)
        .await
        .unwrap();
    store.insert_user(&u).await.unwrap();
    F { a, clock, client: c.id }
}

fn request(extra: &str) -> String {
    let scope = if extra.contains("scope=") { "" } else { "&scope=openid" };
    format!(
        "response_type=code&client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_challenge={}&code_challenge_method=S256{scope}{extra}",
        pkce::challenge_of(VERIFIER)
    )
}

async fn step(f: &F, extra: &str, who: Option<SignedIn>, ix: Interaction) -> Step {
    let req = f.a.parse_authorization(request(extra).as_bytes()).await.unwrap();
    f.a.authorize(req, who, ix).await.unwrap()
}

/// Signs in, consents, and returns the code.
async fn code(f: &F) -> (String, SignedIn) {
    let (_, who) = f.a.login("alice", PW, "10.0.0.1").await.unwrap();
    let allow = Interaction { fresh_login: true, consent: Some(true) };
    let Step::Done(r) = step(f, "", Some(who.clone()), allow).await else { panic!("no code") };
    let u = url::Url::parse(&r.0).unwrap();
    (u.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned(), who)
}

async fn redeem(f: &F, code: &str) -> Result<tessera_proto::TokenResponse, ErrorCode> {
    let body = format!(
        "grant_type=authorization_code&client_id={}&code={code}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier={VERIFIER}",
        f.client
    );
    f.a.token(None, &Params::parse(body.as_bytes()).unwrap()).await.map_err(|e| e.code)
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
    let ok = Interaction { fresh_login: false, consent: Some(true) };
    assert!(matches!(step(&f, "&max_age=100", Some(who.clone()), ok).await, Step::Done(_)));
    f.clock.advance(1);
    assert!(matches!(step(&f, "&max_age=100", Some(who.clone()), ok).await, Step::Login(_)));
    f.clock.advance(3600 - 101);
    assert!(f.a.session(secret.expose()).await.unwrap().is_none(), "sessions last session_ttl");
    assert!(f.a.session("tsr_ss_forged").await.unwrap().is_none());
}

#[tokio::test]
async fn consent_covers_later_narrower_requests_only() {
    let f = fixture().await;
    let (_, who) = f.a.login("alice", PW, "10.0.0.1").await.unwrap();
    let none = Interaction::default();
    assert!(matches!(step(&f, "", Some(who.clone()), none).await, Step::Consent { .. }));
    let allow = Interaction { fresh_login: false, consent: Some(true) };
    let wide = "&scope=openid+profile+email";
    assert!(matches!(step(&f, wide, Some(who.clone()), allow).await, Step::Done(_)));
    assert!(matches!(step(&f, "&scope=openid+email", Some(who.clone()), none).await, Step::Done(_)));
    assert!(matches!(step(&f, "&prompt=consent", Some(who), none).await, Step::Consent { .. }));
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
