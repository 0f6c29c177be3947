//! DPoP at the token endpoint over real HTTP (RFC 9449 §5, §8): bound JWT
//! access tokens (`cnf.jkt`, `token_type: DPoP`) for every grant, server
//! nonces (also another node's), the proof refusals a client can cause, the
//! per-client `--token-binding dpop`, and discovery. Proofs come from
//! `tessera_pop::dpop::make_proof` and, independently, from jsonwebtoken.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64ct::{Base64UrlUnpadded, Encoding};
use common::dpop::*;
use common::signin::*;
use common::*;
use serde_json::{Value, json};
use tessera_pop::dpop::{DpopAlg, ProofKey, make_proof};

const CC: &[(&str, &str)] = &[("grant_type", "client_credentials")];

/// A fresh nonce the way a client learns one: a proof without it is refused.
async fn learn_nonce(s: &Server, id: &str, secret: &str, key: &ProofKey) -> String {
    let a = post(s, id, Some(secret), CC, &[&proof(key, s, None)]).await;
    assert_eq!((a.status, a.body["error"].as_str()), (400, Some("use_dpop_nonce")), "{}", a.body);
    a.nonce()
}

#[tokio::test]
async fn client_credentials_with_a_proof_get_a_bound_token_after_the_nonce_dance() {
    let s = Server::start();
    let (id, secret) = s.create_client(&["--scope", "a"]);
    let key = ProofKey::generate(DpopAlg::EdDSA).unwrap();

    // No nonce yet: refused with one to use, and nothing cached.
    let first = post(&s, &id, Some(&secret), CC, &[&proof(&key, &s, None)]).await;
    assert_refused(&first, "use_dpop_nonce", "first proof without nonce");
    let nonce = first.nonce();
    assert_eq!(nonce.len(), tessera_pop::nonce::NONCE_LEN);

    let a = post(&s, &id, Some(&secret), CC, &[&proof(&key, &s, Some(&nonce))]).await;
    assert_bound(&a, key.jkt());
    assert_eq!(a.header("cache-control"), Some("no-store"));

    // A nonce that is not ours: refused as stale, with a fresh one.
    let forged = Base64UrlUnpadded::encode_string(&[7u8; 24]);
    let b = post(&s, &id, Some(&secret), CC, &[&proof(&key, &s, Some(&forged))]).await;
    assert_refused(&b, "use_dpop_nonce", "a nonce we did not issue");
    assert_ne!(b.nonce(), forged);

    // The same client without a proof still gets a bearer token.
    let bearer = post(&s, &id, Some(&secret), CC, &[]).await;
    assert_eq!((bearer.status, bearer.body["token_type"].as_str()), (200, Some("Bearer")), "{}", bearer.body);
    assert!(claims(bearer.body["access_token"].as_str().unwrap()).get("cnf").is_none());
    assert!(bearer.header("dpop-nonce").is_none());
}

#[tokio::test]
async fn refused_proofs_replay_other_url_or_method_two_headers_and_another_nodes_nonce() {
    let a = Server::start();
    let (id, secret) = a.create_client(&[]);
    let key = ProofKey::generate(DpopAlg::ES256).unwrap();
    let nonce = learn_nonce(&a, &id, &secret, &key).await;

    let p = proof(&key, &a, Some(&nonce));
    assert_bound(&post(&a, &id, Some(&secret), CC, &[&p]).await, key.jkt());
    assert_refused(&post(&a, &id, Some(&secret), CC, &[&p]).await, "invalid_dpop_proof", "replayed proof");

    let mk = |htm: &str, htu: &str| make_proof(&key, htm, htu, None, Some(&nonce), now(), &jti()).unwrap();
    let refused = [
        (mk("POST", &a.url("/oauth2/introspect")), "proof for another endpoint"),
        // What the client reached, spelled by Host: not the configured issuer.
        (mk("POST", &format!("http://localhost:{}/oauth2/token", a.port)), "proof for another host"),
        (mk("GET", &a.url("/oauth2/token")), "proof for another method"),
        ("not.a.jwt".to_string(), "garbage"),
    ];
    for (p, why) in &refused {
        assert_refused(&post(&a, &id, Some(&secret), CC, &[p]).await, "invalid_dpop_proof", why);
    }
    let (p1, p2) = (proof(&key, &a, Some(&nonce)), proof(&key, &a, Some(&nonce)));
    assert_refused(&post(&a, &id, Some(&secret), CC, &[&p1, &p2]).await, "invalid_dpop_proof", "two DPoP headers");

    // Another node with the same master key accepts this node's nonce.
    let master = a.data_dir().join("master.key");
    let b = Server::start_with(&[("TESSERA_MASTER_KEY_FILE", master.to_str().unwrap())]);
    let (id_b, secret_b) = b.create_client(&[]);
    let from_a = learn_nonce(&a, &id, &secret, &key).await;
    assert_bound(&post(&b, &id_b, Some(&secret_b), CC, &[&proof(&key, &b, Some(&from_a))]).await, key.jkt());
    // A node with another master key does not.
    let c = Server::start();
    let (id_c, secret_c) = c.create_client(&[]);
    let other = post(&c, &id_c, Some(&secret_c), CC, &[&proof(&key, &c, Some(&from_a))]).await;
    assert_refused(&other, "use_dpop_nonce", "another master key's nonce");
}

#[tokio::test]
async fn a_dpop_bound_client_needs_a_proof_and_says_so_in_its_metadata() {
    let s = Server::start();
    let (id, secret) = s.create_client(&["--token-binding", "dpop"]);
    let (bearer_id, bearer_secret) = s.create_client(&[]);
    let show =
        |id: &str| -> Value { serde_json::from_slice(&s.cli(&["client", "show", id, "--json"]).stdout).unwrap() };
    assert_eq!(
        (show(&id)["token_binding"].as_str(), show(&id)["dpop_bound_access_tokens"].as_bool()),
        (Some("dpop"), Some(true))
    );
    assert_eq!(show(&bearer_id)["dpop_bound_access_tokens"], false);
    let text = String::from_utf8(s.cli(&["client", "show", &id]).stdout).unwrap();
    assert!(text.contains("token binding:     dpop"), "{text}");

    let a = post(&s, &id, Some(&secret), CC, &[]).await;
    assert_refused(&a, "invalid_dpop_proof", "a dpop-bound client without a proof");
    assert!(a.body["error_description"].as_str().unwrap().contains("must be DPoP-bound"), "{}", a.body);
    let key = ProofKey::generate(DpopAlg::EdDSA).unwrap();
    let nonce = learn_nonce(&s, &id, &secret, &key).await;
    assert_bound(&post(&s, &id, Some(&secret), CC, &[&proof(&key, &s, Some(&nonce))]).await, key.jkt());

    // Bearer clients are unaffected.
    let b = post(&s, &bearer_id, Some(&bearer_secret), CC, &[]).await;
    assert_eq!((b.status, b.body["token_type"].as_str()), (200, Some("Bearer")), "{}", b.body);

    // The binding can be changed, and back; a MAC binding does not exist (yet).
    let out = s.cli(&["client", "update", &bearer_id, "--token-binding", "dpop", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_refused(&post(&s, &bearer_id, Some(&bearer_secret), CC, &[]).await, "invalid_dpop_proof", "after update");
    assert!(s.cli(&["client", "update", &bearer_id, "--token-binding", "bearer"]).status.success());
    assert_eq!(post(&s, &bearer_id, Some(&bearer_secret), CC, &[]).await.status, 200);
    assert!(!s.cli(&["client", "update", &bearer_id, "--token-binding", "mac"]).status.success());

    let meta: Value =
        http().get(s.url("/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap();
    assert_eq!(meta["dpop_signing_alg_values_supported"], json!(["EdDSA", "ES256", "ES384", "PS256", "RS256"]));
}

/// An ES256 proof made by jsonwebtoken from a key aws-lc-rs generated, and
/// the thumbprint computed here by RFC 7638 §3.1's recipe.
fn jsonwebtoken_proof(htu: &str, nonce: Option<&str>) -> (String, String) {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref();
    let (x, y) = (Base64UrlUnpadded::encode_string(&point[1..33]), Base64UrlUnpadded::encode_string(&point[33..65]));
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let jkt = Base64UrlUnpadded::encode_string(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()).as_ref(),
    );
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = Some("dpop+jwt".into());
    header.jwk = Some(serde_json::from_value(json!({"kty": "EC", "crv": "P-256", "x": x, "y": y})).unwrap());
    let mut claims = json!({"jti": jti(), "htm": "POST", "htu": htu, "iat": now()});
    if let Some(n) = nonce {
        claims["nonce"] = json!(n);
    }
    let key = jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref());
    (jsonwebtoken::encode(&header, &claims, &key).unwrap(), jkt)
}

#[tokio::test]
async fn optional_nonces_and_a_proof_from_an_independent_signer() {
    let s = Server::start_with(&[("TESSERA_DPOP_NONCE", "optional")]);
    let (id, secret) = s.create_client(&[]);
    let key = ProofKey::generate(DpopAlg::EdDSA).unwrap();
    assert_bound(&post(&s, &id, Some(&secret), CC, &[&proof(&key, &s, None)]).await, key.jkt());
    // A nonce, when sent, is still checked.
    let forged = Base64UrlUnpadded::encode_string(&[7u8; 24]);
    assert_refused(
        &post(&s, &id, Some(&secret), CC, &[&proof(&key, &s, Some(&forged))]).await,
        "use_dpop_nonce",
        "bad nonce",
    );

    let (p, jkt) = jsonwebtoken_proof(&s.url("/oauth2/token"), None);
    let a = post(&s, &id, Some(&secret), CC, &[&p]).await;
    assert_bound(&a, &jkt);
    assert_refused(&post(&s, &id, Some(&secret), CC, &[&p]).await, "invalid_dpop_proof", "replayed jsonwebtoken proof");
}

#[tokio::test]
async fn authorization_code_and_refresh_token_grants_bind_their_access_tokens() {
    let s = Server::start();
    s.create_user("alice", PASSWORD);
    let (app, secret) = s.create_app(&["--grant-type", "refresh_token", "--scope", "openid offline_access"]);
    let (verifier, challenge) = pkce(21);
    let mut pairs = auth_pairs(&app, &challenge);
    pairs[3] = ("scope", "openid offline_access");
    let code = Browser::new(&s).sign_in(&pairs, "alice").await.param("code").unwrap();

    let key = ProofKey::generate(DpopAlg::ES256).unwrap();
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    // The nonce refusal comes before the grant runs: the code is still good.
    let first = post(&s, &app, Some(&secret), &redeem, &[&proof(&key, &s, None)]).await;
    assert_refused(&first, "use_dpop_nonce", "code grant without nonce");
    let a = post(&s, &app, Some(&secret), &redeem, &[&proof(&key, &s, Some(&first.nonce()))]).await;
    assert_bound(&a, key.jkt());
    let rt = a.body["refresh_token"].as_str().unwrap().to_string();

    let (p, jkt) = jsonwebtoken_proof(&s.url("/oauth2/token"), Some(&a.nonce()));
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str())];
    let r = post(&s, &app, Some(&secret), &refresh, &[&p]).await;
    assert_bound(&r, &jkt);
    assert!(r.body["refresh_token"].as_str().is_some_and(|n| n != rt), "{}", r.body);
}

/// An opaque token carries its binding in the store: introspection says
/// `token_type: DPoP` with `cnf.jkt` (RFC 9449 §6.2), so a resource server
/// that introspects never takes it for a bearer token; a bearer one says so.
#[tokio::test]
async fn an_opaque_token_keeps_its_binding_for_introspection() {
    let s = Server::start();
    let (id, secret) = s.create_client(&["--scope", "a", "--token-format", "opaque"]);
    let (rs, rs_secret) = s.create_client(&["--introspection"]);
    let key = ProofKey::generate(DpopAlg::ES256).unwrap();
    let nonce = learn_nonce(&s, &id, &secret, &key).await;
    let bound = post(&s, &id, Some(&secret), CC, &[&proof(&key, &s, Some(&nonce))]).await;
    assert_eq!((bound.status, bound.body["token_type"].as_str()), (200, Some("DPoP")), "{}", bound.body);
    let bearer = post(&s, &id, Some(&secret), CC, &[]).await;
    assert_eq!((bearer.status, bearer.body["token_type"].as_str()), (200, Some("Bearer")), "{}", bearer.body);

    let introspect = |token: String| {
        let (s, rs, rs_secret) = (&s, rs.clone(), rs_secret.clone());
        async move {
            let r = http()
                .post(s.url("/oauth2/introspect"))
                .basic_auth(rs, Some(rs_secret))
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let b = introspect(bound.body["access_token"].as_str().unwrap().to_string()).await;
    assert_eq!((b["active"].as_bool(), b["token_type"].as_str()), (Some(true), Some("DPoP")), "{b}");
    assert_eq!(b["cnf"]["jkt"], key.jkt(), "{b}");
    let p = introspect(bearer.body["access_token"].as_str().unwrap().to_string()).await;
    assert_eq!((p["active"].as_bool(), p["token_type"].as_str()), (Some(true), Some("Bearer")), "{p}");
    assert!(p.get("cnf").is_none(), "{p}");
}
