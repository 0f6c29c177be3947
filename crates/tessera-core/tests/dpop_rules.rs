//! DPoP at the token endpoint under an injected clock: nonces across nodes
//! and windows, the proof checked before the grant, a replay cache that
//! cannot answer (503, never a pass), and the bound response of every
//! token format.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64ct::{Base64, Encoding};
use tessera_core::client::{NewClient, TokenBinding, TokenFormat};
use tessera_core::clock::{Clock, ManualClock};
use tessera_core::dpop::NONCE_WINDOW;
use tessera_core::keys::{Algorithm, MasterKey};
use tessera_core::params::Params;
use tessera_core::random::SeededRandom;
use tessera_core::store::memory::MemoryStore;
use tessera_core::store::prelude::*;
use tessera_core::{Authority, OAuthError, Settings};
use tessera_pop::dpop::{DpopAlg, ProofKey, make_proof};
use tessera_pop::replay::{MemoryReplayCache, ReplayCache, ReplayError};
use tessera_proto::{ErrorCode, TokenResponse};

const T0: i64 = 1_800_000_000;
static SEED: AtomicU64 = AtomicU64::new(7);
const HTU: &str = "https://as.example/oauth2/token";

struct Node {
    authority: Authority,
    clock: Arc<ManualClock>,
    store: Arc<MemoryStore>,
}

async fn node(master: u8, clock: Arc<ManualClock>) -> Node {
    let store = Arc::new(MemoryStore::new());
    let settings = Settings { signing_alg: Algorithm::EdDSA, ..Settings::new("https://as.example/") };
    let rng = Arc::new(SeededRandom::new(u64::from(master)));
    let authority = Authority::start(settings, store.clone(), MasterKey::from_bytes([master; 32]), clock.clone(), rng)
        .await
        .unwrap();
    Node { authority, clock, store }
}

impl Node {
    async fn client(&self, format: TokenFormat, binding: TokenBinding) -> String {
        let (c, secret) = NewClient {
            name: "c".into(),
            grant_types: vec!["client_credentials".into()],
            scope: "a".into(),
            token_format: format,
            token_binding: binding,
            ..Default::default()
        }
        .build(&SeededRandom::new(SEED.fetch_add(1, Ordering::Relaxed)), self.clock.now())
        .unwrap();
        self.store.insert_client(&c).await.unwrap();
        let basic = format!("{}:{}", c.id.as_str(), secret.unwrap().expose());
        format!("Basic {}", Base64::encode_string(basic.as_bytes()))
    }

    async fn token(&self, auth: &str, proofs: &[&str]) -> Result<TokenResponse, OAuthError> {
        let params = Params::parse(b"grant_type=client_credentials").unwrap();
        let call = self.authority.client_call(Some(auth), &params).await;
        self.authority.token_with_dpop(&call, &params, proofs).await
    }

    fn proof(&self, key: &ProofKey, nonce: Option<&str>, jti: &str) -> String {
        make_proof(key, "POST", HTU, None, nonce, self.clock.now(), jti).unwrap()
    }
}

fn code(r: Result<TokenResponse, OAuthError>) -> ErrorCode {
    r.map(|t| panic!("accepted: {}", t.token_type)).unwrap_or_else(|e| e.code)
}

#[tokio::test]
async fn nonces_hold_across_nodes_with_one_master_key_and_expire_after_two_windows() {
    let clock = Arc::new(ManualClock::new(T0));
    let (a, b, other) = (node(1, clock.clone()).await, node(1, clock.clone()).await, node(2, clock.clone()).await);
    let (auth_b, auth_other) = (
        b.client(TokenFormat::Jwt, TokenBinding::Bearer).await,
        other.client(TokenFormat::Jwt, TokenBinding::Bearer).await,
    );
    let key = ProofKey::generate(DpopAlg::EdDSA).unwrap();
    let nonce = a.authority.dpop_nonce();
    let t = b.token(&auth_b, &[&b.proof(&key, Some(&nonce), "j1")]).await.unwrap();
    assert_eq!(t.token_type, "DPoP");
    assert_eq!(
        code(other.token(&auth_other, &[&other.proof(&key, Some(&nonce), "j2")]).await),
        ErrorCode::UseDpopNonce
    );
    assert_eq!(code(b.token(&auth_b, &[&b.proof(&key, None, "j3")]).await), ErrorCode::UseDpopNonce);
    clock.advance(2 * NONCE_WINDOW.as_secs() as i64);
    assert_eq!(code(b.token(&auth_b, &[&b.proof(&key, Some(&nonce), "j4")]).await), ErrorCode::UseDpopNonce);
    let fresh = a.authority.dpop_nonce();
    assert_eq!(b.token(&auth_b, &[&b.proof(&key, Some(&fresh), "j5")]).await.unwrap().token_type, "DPoP");
}

#[tokio::test]
async fn the_proof_is_checked_before_the_grant_and_binds_every_format() {
    let clock = Arc::new(ManualClock::new(T0));
    let n = node(1, clock).await;
    let key = ProofKey::generate(DpopAlg::ES256).unwrap();
    let nonce = n.authority.dpop_nonce();
    let bound = n.client(TokenFormat::Jwt, TokenBinding::Dpop).await;
    assert_eq!(code(n.token(&bound, &[]).await), ErrorCode::InvalidDpopProof);
    // A bad client fails as such, before its proof is looked at: its `jti`
    // is not spent (the first client below uses it).
    let wrong = format!("Basic {}", Base64::encode_string(b"nobody:nothing"));
    assert_eq!(code(n.token(&wrong, &[&n.proof(&key, Some(&nonce), "j0")]).await), ErrorCode::InvalidClient);
    for (i, format) in [TokenFormat::Jwt, TokenFormat::Opaque].into_iter().enumerate() {
        let auth = n.client(format, TokenBinding::Bearer).await;
        let t = n.token(&auth, &[&n.proof(&key, Some(&nonce), &format!("j{i}"))]).await.unwrap();
        assert_eq!(t.token_type, "DPoP", "{format:?}");
        assert_eq!(n.token(&auth, &[]).await.unwrap().token_type, "Bearer", "{format:?}");
    }
}

struct Down;

#[async_trait::async_trait]
impl ReplayCache for Down {
    async fn first_use(&self, _: &[u8], _: i64, _: i64) -> Result<bool, ReplayError> {
        Err(ReplayError::Unavailable("database down".into()))
    }
}

#[tokio::test]
async fn a_replay_cache_that_cannot_answer_refuses_with_temporarily_unavailable() {
    let clock = Arc::new(ManualClock::new(T0));
    let mut n = node(1, clock.clone()).await;
    n.authority = n.authority.with_dpop_replay_cache(Arc::new(Down));
    let key = ProofKey::generate(DpopAlg::EdDSA).unwrap();
    let auth = n.client(TokenFormat::Jwt, TokenBinding::Bearer).await;
    let nonce = n.authority.dpop_nonce();
    assert_eq!(code(n.token(&auth, &[&n.proof(&key, Some(&nonce), "j1")]).await), ErrorCode::TemporarilyUnavailable);
    // Full of live proofs: refused, not waved through.
    n.authority = n.authority.with_dpop_replay_cache(Arc::new(MemoryReplayCache::new(1)));
    assert_eq!(n.token(&auth, &[&n.proof(&key, Some(&nonce), "j2")]).await.unwrap().token_type, "DPoP");
    assert_eq!(code(n.token(&auth, &[&n.proof(&key, Some(&nonce), "j3")]).await), ErrorCode::TemporarilyUnavailable);
}
