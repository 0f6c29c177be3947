//! What core's rule tests share: an [`Authority`] on the memory store with
//! a manual clock and seeded randomness (no sleeps, no OS randomness), the
//! clients and the user they sign in with, and the pieces of the
//! authorization-code round trip. Each test binary uses part of it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use tessera_core::client::NewClient;
use tessera_core::clock::ManualClock;
use tessera_core::keys::{Algorithm, MasterKey};
use tessera_core::params::Params;
use tessera_core::pkce;
use tessera_core::random::SeededRandom;
use tessera_core::store::memory::MemoryStore;
use tessera_core::store::prelude::*;
use tessera_core::user::NewUser;
use tessera_core::{Authority, Settings};

/// Where every test's clock starts.
pub const T0: i64 = 1_800_000_000;
/// Alice's password.
pub const PW: &str = "correct horse battery staple";
/// The PKCE verifier of every authorization request (RFC 7636 Appendix B).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// The redirect URI of the clients that use codes, form-encoded.
pub const CALLBACK: &str = "https%3A%2F%2Fapp.example%2Fcb";

/// EdDSA keys (fast to make) and the issuer `https://as.example`.
pub fn settings() -> Settings {
    Settings { signing_alg: Algorithm::EdDSA, ..Settings::new("https://as.example") }
}

/// One server process ("node") on `store`, drawing its randomness from `seed`.
pub async fn node(settings: Settings, store: &Arc<MemoryStore>, clock: &Arc<ManualClock>, seed: u64) -> Authority {
    let rng = Arc::new(SeededRandom::new(seed));
    Authority::start(settings, store.clone(), MasterKey::from_bytes([1; 32]), clock.clone(), rng).await.unwrap()
}

/// A fresh memory store, a clock at [`T0`] and one node on them.
pub async fn start(settings: Settings, seed: u64) -> (Authority, Arc<ManualClock>, Arc<MemoryStore>) {
    let clock = Arc::new(ManualClock::new(T0));
    let store = Arc::new(MemoryStore::new());
    let a = node(settings, &store, &clock, seed).await;
    (a, clock, store)
}

/// A public client `id` with these grants and scope; one that uses codes
/// registers `https://app.example/cb`.
pub fn public_client(id: &str, name: &str, grants: &[&str], scope: &str) -> NewClient {
    let codes = grants.contains(&"authorization_code");
    NewClient {
        id: Some(id.into()),
        name: name.into(),
        grant_types: grants.iter().map(|g| g.to_string()).collect(),
        scope: scope.into(),
        redirect_uris: if codes { vec!["https://app.example/cb".into()] } else { vec![] },
        public: true,
        ..Default::default()
    }
}

/// Builds `n` at [`T0`] and stores it; returns its id.
pub async fn register(store: &MemoryStore, n: NewClient) -> String {
    let (c, _) = n.build(&SeededRandom::new(2), T0).unwrap();
    store.insert_client(&c).await.unwrap();
    c.id.into_string()
}

/// Stores alice (alice@example.com, password [`PW`]), hashed by `a`.
pub async fn add_alice(a: &Authority, store: &MemoryStore) {
    let u = NewUser { username: "alice".into(), email: "alice@example.com".into(), name: None }
        .build(a.passwords(), a.rng(), PW, T0)
        .await
        .unwrap();
    store.insert_user(&u).await.unwrap();
}

pub fn form(s: &str) -> Params {
    Params::parse(s.as_bytes()).unwrap()
}

/// An authorization request of client `app` with PKCE ([`VERIFIER`]), then `extra`.
pub fn code_request(extra: &str) -> String {
    format!(
        "response_type=code&client_id=app&redirect_uri={CALLBACK}&code_challenge={}&code_challenge_method=S256{extra}",
        pkce::challenge_of(VERIFIER)
    )
}

/// The `code` of a redirect to the client.
pub fn code_of(redirect: &str) -> String {
    let u = url::Url::parse(redirect).unwrap();
    u.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned()
}

/// The token request that redeems `code` for `client`.
pub fn redeem_body(client: &str, code: &str) -> String {
    format!(
        "grant_type=authorization_code&client_id={client}&code={code}&redirect_uri={CALLBACK}&code_verifier={VERIFIER}"
    )
}
