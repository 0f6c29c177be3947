//! Conformance cases for tokens with lookup ids (see `tessera_core::secret`):
//! found by id with the whole key compared, never by id alone; tokens issued
//! before ids found by their SHA-256 beside them; a revoked token with an id
//! is not found even though its row stays until it expires.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use tessera_core::random::SeededRandom;
use tessera_core::secret::{ACCESS_TOKEN_PREFIX, REFRESH_PREFIX, Secret, TokenKey};
use tessera_core::store::{OpaqueToken, RefreshToken, RevokedToken, Store};

use crate::conformance::{revocation, token};
use crate::conformance_refresh::refresh;

const MILLIS: i64 = 1_767_225_600_000;

/// An access token issued `n` ms after [`MILLIS`], with its stored record.
fn token_with_id(n: u32) -> (Secret, OpaqueToken) {
    let secret = Secret::generate_with_id(&SeededRandom::new(u64::from(n)), MILLIS + i64::from(n), ACCESS_TOKEN_PREFIX);
    let key = secret.key();
    (secret, OpaqueToken { digest: key.sha256, id: key.id, jti: format!("jti-id-{n}"), ..token(n, 1000) })
}

pub async fn tokens_with_and_without_ids_are_found(s: Arc<dyn Store>) {
    let old = token(1, 1000);
    s.insert_token(&old).await.unwrap();
    let mut issued = Vec::new();
    for n in 2..6 {
        let (secret, t) = token_with_id(n);
        s.insert_token(&t).await.unwrap();
        issued.push((secret, t));
    }
    assert_eq!(s.find_token(&TokenKey::legacy(old.digest)).await.unwrap(), Some(old.clone()));
    assert_eq!(s.get_token(&old.digest).await.unwrap(), Some(old));
    for (secret, t) in &issued {
        assert_eq!(s.find_token(&secret.key()).await.unwrap().as_ref(), Some(t), "found by its id and key");
        // Its SHA-256 alone (no id) does not find it, nor does its id with another secret.
        assert_eq!(s.get_token(&t.digest).await.unwrap(), None);
        let other = Secret::generate(&SeededRandom::new(99), ACCESS_TOKEN_PREFIX).sha256();
        assert_eq!(s.find_token(&TokenKey { id: t.id, sha256: other }).await.unwrap(), None);
    }
    let (unknown, _) = token_with_id(9);
    assert_eq!(s.find_token(&unknown.key()).await.unwrap(), None);
}

pub async fn revoking_a_token_with_an_id_hides_it(s: Arc<dyn Store>) {
    let (secret, t) = token_with_id(3);
    let (_, kept) = token_with_id(4);
    s.insert_token(&t).await.unwrap();
    s.insert_token(&kept).await.unwrap();
    let seq = s.revoke(&revocation(RevokedToken::Opaque(t.digest), 1000)).await.unwrap();
    assert_eq!(s.find_token(&secret.key()).await.unwrap(), None);
    assert!(s.find_token(&TokenKey { id: kept.id, sha256: kept.digest }).await.unwrap().is_some());
    let feed = s.revocations_after(0, 10).await.unwrap();
    assert_eq!((feed.len(), feed[0].seq), (1, seq));
    // The feed names it by the SHA-256 of the whole token, as resource servers compute it.
    assert_eq!(feed[0].revocation.token, RevokedToken::Opaque(Secret::new(secret.expose()).sha256()));
}

pub async fn refresh_tokens_with_and_without_ids_are_found(s: Arc<dyn Store>) {
    let first = crate::conformance_refresh::family(&s).await;
    let secret = Secret::generate_with_id(&SeededRandom::new(5), MILLIS, REFRESH_PREFIX);
    let with_id = RefreshToken { digest: secret.digest(), ..refresh(6, 500) };
    assert!(s.insert_refresh(&with_id).await.unwrap());
    assert_eq!(s.get_refresh(&first.digest).await.unwrap().map(|r| r.token), Some(first));
    assert_eq!(s.get_refresh(&secret.digest()).await.unwrap().map(|r| r.token), Some(with_id.clone()));
    // The same id with another secret is not the token.
    let mut forged = secret.digest();
    forged.0[31] ^= 1;
    assert_eq!(s.get_refresh(&forged).await.unwrap(), None);
    // It rotates like any other.
    let next = Secret::generate_with_id(&SeededRandom::new(6), MILLIS + 1, REFRESH_PREFIX);
    let successor = RefreshToken { digest: next.digest(), ..refresh(7, 600) };
    let r = s.rotate_refresh(&secret.digest(), 200, 210, b"sealed", &successor).await.unwrap();
    assert_eq!(r, tessera_core::store::Rotation::Rotated);
    assert!(s.get_refresh(&next.digest()).await.unwrap().is_some());
}
