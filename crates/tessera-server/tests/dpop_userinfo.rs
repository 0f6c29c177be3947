//! UserInfo with DPoP over real HTTP (RFC 9449 §7, §9): a bound access
//! token, JWT or opaque, is accepted only as `Authorization: DPoP` with a
//! proof of its key for this method and the configured UserInfo URL,
//! carrying the token's hash (`ath`) and, by default, a server nonce. A
//! stolen token with the thief's own proof, a proof without or with the
//! wrong `ath`, a replayed proof and a bound token sent as `Bearer` are all
//! refused with 401 and a DPoP challenge; bearer tokens work as before.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::dpop::*;
use common::signin::*;
use common::*;
use tessera_pop::dpop::{DpopAlg, ProofKey, make_proof};

const ALGS: &str = "DPoP algs=\"EdDSA ES256 ES384 PS256 RS256\"";

/// A proof for UserInfo with `method`, carrying `token`'s hash when given.
fn userinfo_proof(key: &ProofKey, s: &Server, method: &str, token: Option<&str>, nonce: Option<&str>) -> String {
    make_proof(key, method, &s.url("/oauth2/userinfo"), token, nonce, now(), &jti()).unwrap()
}

/// UserInfo with this `Authorization` header and these `DPoP` headers.
async fn userinfo(s: &Server, method: &str, authorization: &str, proofs: &[&str]) -> Answer {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = http().request(m, s.url("/oauth2/userinfo")).header("authorization", authorization);
    for p in proofs {
        req = req.header("DPoP", *p);
    }
    Answer::of(req.send().await.unwrap()).await
}

fn challenges(a: &Answer) -> Vec<&str> {
    a.headers.get_all("www-authenticate").iter().map(|v| v.to_str().unwrap()).collect()
}

/// 401 with the DPoP challenge naming `code` first.
fn assert_dpop_refused(a: &Answer, code: &str, why: &str) {
    assert_eq!((a.status, a.body["error"].as_str()), (401, Some(code)), "{why}: {}", a.body);
    assert_eq!(challenges(a).first().copied(), Some(format!("{ALGS}, error=\"{code}\"").as_str()), "{why}");
}

/// A token for alice from the code flow, bound to `key` when given; the
/// token response's nonce (bound) or None.
async fn user_token(s: &Server, app: &str, secret: &str, key: Option<&ProofKey>) -> (String, Option<String>) {
    let (verifier, challenge) = pkce(9);
    let code = Browser::new(s).sign_in(&auth_pairs(app, &challenge), "alice").await.param("code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let a = match key {
        None => post(s, app, Some(secret), &form, &[]).await,
        Some(key) => {
            // The nonce dance when nonces are required.
            let first = post(s, app, Some(secret), &form, &[&proof(key, s, None)]).await;
            if first.body["error"] != "use_dpop_nonce" {
                first
            } else {
                post(s, app, Some(secret), &form, &[&proof(key, s, Some(&first.nonce()))]).await
            }
        }
    };
    assert_eq!(a.status, 200, "{}", a.body);
    let want = if key.is_some() { "DPoP" } else { "Bearer" };
    assert_eq!(a.body["token_type"], want, "{}", a.body);
    (a.body["access_token"].as_str().unwrap().to_string(), key.map(|_| a.nonce()))
}

/// A server with alice and one app per token format.
fn setup(env: &[(&str, &str)]) -> (Server, [(String, String); 2]) {
    let s = Server::start_with(env);
    s.create_user("alice", PASSWORD);
    let jwt = s.create_app(&[]);
    let opaque = s.create_app(&["--token-format", "opaque"]);
    (s, [jwt, opaque])
}

/// For each app, a key and a token bound to it, with the token response's nonce.
async fn bound_tokens(s: &Server, apps: &[(String, String)], alg: DpopAlg) -> Vec<(ProofKey, String, String)> {
    let mut out = Vec::new();
    for (app, secret) in apps {
        let key = ProofKey::generate(alg).unwrap();
        let (at, nonce) = user_token(s, app, secret, Some(&key)).await;
        out.push((key, at, nonce.unwrap()));
    }
    out
}

#[tokio::test]
async fn bound_jwt_and_opaque_tokens_are_accepted_with_a_proof_of_their_key() {
    let (s, apps) = setup(&[]);
    for (key, at, nonce) in bound_tokens(&s, &apps, DpopAlg::ES256).await {
        let dpop = format!("DPoP {at}");

        // Without the server's nonce: 401 use_dpop_nonce with a fresh one (§9).
        let first = userinfo(&s, "GET", &dpop, &[&userinfo_proof(&key, &s, "GET", Some(&at), None)]).await;
        assert_dpop_refused(&first, "use_dpop_nonce", "no nonce");
        assert!(first.header("dpop-nonce").is_some());

        // The nonce from the token response is good here too.
        let ok = userinfo(&s, "GET", &dpop, &[&userinfo_proof(&key, &s, "GET", Some(&at), Some(&nonce))]).await;
        assert_eq!((ok.status, ok.body["email"].as_str()), (200, Some("alice@example.com")), "{}", ok.body);
        assert!(ok.body["sub"].is_string(), "{}", ok.body);
        assert_eq!(ok.header("cache-control"), Some("no-store"));
        let fresh = ok.nonce();
        let by_post = userinfo(&s, "POST", &dpop, &[&userinfo_proof(&key, &s, "POST", Some(&at), Some(&fresh))]).await;
        assert_eq!(by_post.status, 200, "{}", by_post.body);

        // htm is the request's method; htu the configured URL, not Host's.
        let get_proof = userinfo_proof(&key, &s, "GET", Some(&at), Some(&fresh));
        assert_dpop_refused(&userinfo(&s, "POST", &dpop, &[&get_proof]).await, "invalid_dpop_proof", "method");
        let host = format!("http://localhost:{}/oauth2/userinfo", s.port);
        let p = make_proof(&key, "GET", &host, Some(&at), Some(&fresh), now(), &jti()).unwrap();
        assert_dpop_refused(&userinfo(&s, "GET", &dpop, &[&p]).await, "invalid_dpop_proof", "Host's URL");
        let p = make_proof(&key, "GET", &s.url("/oauth2/token"), Some(&at), Some(&fresh), now(), &jti()).unwrap();
        assert_dpop_refused(&userinfo(&s, "GET", &dpop, &[&p]).await, "invalid_dpop_proof", "another endpoint");
        assert_dpop_refused(&userinfo(&s, "GET", &dpop, &[]).await, "invalid_dpop_proof", "no proof");
    }
}

#[tokio::test]
async fn a_stolen_token_a_missing_or_wrong_ath_and_a_replayed_proof_are_refused() {
    let (s, apps) = setup(&[]);
    for (key, at, nonce) in bound_tokens(&s, &apps, DpopAlg::EdDSA).await {
        let dpop = format!("DPoP {at}");

        // The thief has the token and a key of its own, not the client's.
        let thief = ProofKey::generate(DpopAlg::EdDSA).unwrap();
        let stolen = userinfo_proof(&thief, &s, "GET", Some(&at), Some(&nonce));
        assert_dpop_refused(&userinfo(&s, "GET", &dpop, &[&stolen]).await, "invalid_dpop_proof", "thief's key");

        let no_ath = userinfo_proof(&key, &s, "GET", None, Some(&nonce));
        assert_dpop_refused(&userinfo(&s, "GET", &dpop, &[&no_ath]).await, "invalid_dpop_proof", "no ath");
        let wrong_ath = userinfo_proof(&key, &s, "GET", Some("another token"), Some(&nonce));
        assert_dpop_refused(&userinfo(&s, "GET", &dpop, &[&wrong_ath]).await, "invalid_dpop_proof", "wrong ath");

        let good = userinfo_proof(&key, &s, "GET", Some(&at), Some(&nonce));
        assert_eq!(userinfo(&s, "GET", &dpop, &[&good]).await.status, 200);
        assert_dpop_refused(&userinfo(&s, "GET", &dpop, &[&good]).await, "invalid_dpop_proof", "replayed");
    }
}

#[tokio::test]
async fn a_bound_token_as_bearer_and_a_bearer_token_as_dpop_are_refused() {
    let (s, apps) = setup(&[]);
    let bound = bound_tokens(&s, &apps, DpopAlg::ES256).await;
    for ((app, secret), (key, at, nonce)) in apps.iter().zip(bound) {
        // A copied bound token, used the bearer way (with or without a proof).
        let a = userinfo(&s, "GET", &format!("Bearer {at}"), &[]).await;
        assert_dpop_refused(&a, "invalid_token", "bound token as Bearer");
        assert_eq!(challenges(&a), [format!("{ALGS}, error=\"invalid_token\"")], "only the DPoP challenge");
        let p = userinfo_proof(&key, &s, "GET", Some(&at), Some(&nonce));
        assert_dpop_refused(&userinfo(&s, "GET", &format!("Bearer {at}"), &[&p]).await, "invalid_token", "with proof");

        // A bearer token is not made a DPoP one by the scheme's name.
        let (bearer, _) = user_token(&s, app, secret, None).await;
        let p = userinfo_proof(&key, &s, "GET", Some(&bearer), Some(&nonce));
        let b = userinfo(&s, "GET", &format!("DPoP {bearer}"), &[&p]).await;
        assert_eq!((b.status, b.body["error"].as_str()), (401, Some("invalid_token")), "{}", b.body);
    }
}

#[tokio::test]
async fn bearer_tokens_work_as_before_and_every_401_offers_both_schemes() {
    let (s, apps) = setup(&[]);
    for (app, secret) in &apps {
        let (at, _) = user_token(&s, app, secret, None).await;
        let ok = userinfo(&s, "GET", &format!("Bearer {at}"), &[]).await;
        assert_eq!((ok.status, ok.body["email"].as_str()), (200, Some("alice@example.com")), "{}", ok.body);
        assert!(ok.header("dpop-nonce").is_none());
        assert!(ok.header("www-authenticate").is_none());
        assert_eq!(userinfo(&s, "POST", &format!("Bearer {at}"), &[]).await.status, 200);
    }
    let bare = Answer::of(http().get(s.url("/oauth2/userinfo")).send().await.unwrap()).await;
    assert_eq!(bare.status, 401);
    assert_eq!(challenges(&bare), ["Bearer realm=\"tessera\"", ALGS]);
    let garbage = userinfo(&s, "GET", "Bearer garbage", &[]).await;
    assert_eq!(garbage.status, 401);
    assert_eq!(challenges(&garbage), ["Bearer realm=\"tessera\", error=\"invalid_token\"", ALGS]);
    // Not a 401: no DPoP offer.
    let (id, client_secret) = s.create_client(&["--scope", "read"]);
    let machine = access_token(&s, &id, &client_secret).await;
    let forbidden = userinfo(&s, "GET", &format!("Bearer {machine}"), &[]).await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(challenges(&forbidden), ["Bearer realm=\"tessera\", error=\"insufficient_scope\", scope=\"openid\""]);
}

#[tokio::test]
async fn with_optional_nonces_a_proof_without_one_is_accepted() {
    let (s, apps) = setup(&[("TESSERA_DPOP_NONCE", "optional")]);
    let (app, secret) = &apps[0];
    let key = ProofKey::generate(DpopAlg::ES256).unwrap();
    let (at, _) = user_token(&s, app, secret, Some(&key)).await;
    let at = at.as_str();
    let ok = userinfo(&s, "GET", &format!("DPoP {at}"), &[&userinfo_proof(&key, &s, "GET", Some(at), None)]).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    // A nonce, when sent, is still checked.
    let forged = userinfo_proof(&key, &s, "GET", Some(at), Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_dpop_refused(&userinfo(&s, "GET", &format!("DPoP {at}"), &[&forged]).await, "use_dpop_nonce", "forged");
}
