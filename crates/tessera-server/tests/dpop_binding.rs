//! Keys that outlive the token request, over real HTTP (RFC 9449 §5, §10):
//! a public client's refresh tokens are bound to the key of the proof they
//! were issued with, and only a proof of that key refreshes them (a refusal
//! spends nothing); a confidential client's are not bound. A code asked for
//! with `dpop_jkt` is redeemed only with a proof of that key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::dpop::*;
use common::signin::*;
use common::*;
use tessera_pop::dpop::{DpopAlg, ProofKey};

/// A server whose proofs need no nonce: the tests are about keys.
fn server() -> Server {
    let s = Server::start_with(&[("TESSERA_DPOP_NONCE", "optional")]);
    s.create_user("alice", PASSWORD);
    s
}

/// A code for `app` from alice, asked for with these extra pairs; with its verifier.
async fn code(s: &Server, app: &str, extra: &[(&str, &str)]) -> (String, String) {
    let (verifier, challenge) = pkce(33);
    let mut pairs = auth_pairs(app, &challenge);
    pairs[3] = ("scope", "openid offline_access");
    pairs.extend_from_slice(extra);
    let code = Browser::new(s).sign_in(&pairs, "alice").await.param("code").unwrap();
    (code, verifier)
}

/// Redeems a code at the token endpoint with these proofs.
async fn redeem_with(
    s: &Server,
    app: &str,
    secret: Option<&str>,
    code: &str,
    verifier: &str,
    proofs: &[&str],
) -> Answer {
    let form =
        [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT), ("code_verifier", verifier)];
    post(s, app, secret, &form, proofs).await
}

async fn refresh(s: &Server, app: &str, secret: Option<&str>, rt: &str, proofs: &[&str]) -> Answer {
    post(s, app, secret, &[("grant_type", "refresh_token"), ("refresh_token", rt)], proofs).await
}

fn refresh_token(a: &Answer) -> String {
    a.body["refresh_token"].as_str().expect("a refresh token").to_string()
}

#[tokio::test]
async fn a_public_clients_refresh_token_needs_its_key_a_confidential_clients_does_not() {
    let s = server();
    let (public, _) = s.create_app(&["--public", "--grant-type", "refresh_token", "--scope", "openid offline_access"]);
    let (mine, thief) = (ProofKey::generate(DpopAlg::ES256).unwrap(), ProofKey::generate(DpopAlg::EdDSA).unwrap());
    let (c, v) = code(&s, &public, &[]).await;
    let issued = redeem_with(&s, &public, None, &c, &v, &[&proof(&mine, &s, None)]).await;
    assert_bound(&issued, mine.jkt());
    let rt = refresh_token(&issued);

    // Another key, or none: refused, and the token is not spent.
    let other = refresh(&s, &public, None, &rt, &[&proof(&thief, &s, None)]).await;
    assert_refused(&other, "invalid_grant", "a bound refresh token with another key");
    assert_refused(
        &refresh(&s, &public, None, &rt, &[]).await,
        "invalid_grant",
        "a bound refresh token without a proof",
    );

    let r = refresh(&s, &public, None, &rt, &[&proof(&mine, &s, None)]).await;
    assert_bound(&r, mine.jkt());
    let next = refresh_token(&r);
    assert_ne!(next, rt);
    // A retry within the grace window: the same successor for the same key only.
    let retry = refresh(&s, &public, None, &rt, &[&proof(&mine, &s, None)]).await;
    assert_eq!((retry.status, refresh_token(&retry)), (200, next.clone()), "{}", retry.body);
    let stolen = refresh(&s, &public, None, &rt, &[&proof(&thief, &s, None)]).await;
    assert_refused(&stolen, "invalid_grant", "a retry with another key");

    // The successor is bound again; the family was not revoked by the refusals.
    assert_refused(&refresh(&s, &public, None, &next, &[]).await, "invalid_grant", "the successor without a proof");
    let other = refresh(&s, &public, None, &next, &[&proof(&thief, &s, None)]).await;
    assert_refused(&other, "invalid_grant", "the successor with another key");
    assert_bound(&refresh(&s, &public, None, &next, &[&proof(&mine, &s, None)]).await, mine.jkt());

    // A confidential client's refresh token is not bound (§5): it refreshes
    // without a proof, and the access token follows whatever proof comes.
    let (app, secret) = s.create_app(&["--grant-type", "refresh_token", "--scope", "openid offline_access"]);
    let (c, v) = code(&s, &app, &[]).await;
    let issued = redeem_with(&s, &app, Some(&secret), &c, &v, &[&proof(&mine, &s, None)]).await;
    assert_bound(&issued, mine.jkt());
    let plain = refresh(&s, &app, Some(&secret), &refresh_token(&issued), &[]).await;
    assert_eq!((plain.status, plain.body["token_type"].as_str()), (200, Some("Bearer")), "{}", plain.body);
    let rebound = refresh(&s, &app, Some(&secret), &refresh_token(&plain), &[&proof(&thief, &s, None)]).await;
    assert_bound(&rebound, thief.jkt());
}

#[tokio::test]
async fn a_code_asked_for_with_dpop_jkt_is_redeemed_only_with_that_key() {
    let s = server();
    let (app, secret) = s.create_app(&["--grant-type", "refresh_token", "--scope", "openid offline_access"]);
    let (mine, thief) = (ProofKey::generate(DpopAlg::EdDSA).unwrap(), ProofKey::generate(DpopAlg::ES256).unwrap());
    let jkt = [("dpop_jkt", mine.jkt())];

    // Through sign-in and consent, the binding reaches the code.
    let (c, v) = code(&s, &app, &jkt).await;
    let a = redeem_with(&s, &app, Some(&secret), &c, &v, &[&proof(&thief, &s, None)]).await;
    assert_refused(&a, "invalid_grant", "dpop_jkt with another key's proof");
    let (c, v) = code(&s, &app, &jkt).await;
    assert_refused(
        &redeem_with(&s, &app, Some(&secret), &c, &v, &[]).await,
        "invalid_grant",
        "dpop_jkt without a proof",
    );
    let (c, v) = code(&s, &app, &jkt).await;
    assert_bound(&redeem_with(&s, &app, Some(&secret), &c, &v, &[&proof(&mine, &s, None)]).await, mine.jkt());

    // A malformed dpop_jkt goes back to the client as invalid_request.
    let (_, challenge) = pkce(34);
    for bad in ["short", &format!("{}=", &mine.jkt()[1..]), &format!("{}!", &mine.jkt()[1..])] {
        let mut pairs = auth_pairs(&app, &challenge);
        pairs[3] = ("scope", "openid");
        pairs.push(("dpop_jkt", bad));
        let seen = Browser::new(&s).authorize(&pairs).await;
        assert_eq!(
            (seen.status, seen.param("error").as_deref()),
            (303, Some("invalid_request")),
            "{bad}: {}",
            seen.body
        );
    }
}
