//! Key rotation: a new key is published before it signs, the old one keeps
//! verifying the tokens it signed, and a running server follows at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::Value;

fn kid_of(jwt: &str) -> String {
    let header = jwt.split('.').next().unwrap();
    let header = <base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(header).unwrap();
    serde_json::from_slice::<Value>(&header).unwrap()["kid"].as_str().unwrap().to_string()
}

/// The published EdDSA keys (access tokens); ID-token keys of the other
/// algorithms rotate beside them.
async fn jwks_kids(s: &Server) -> Vec<String> {
    let v: Value = http().get(s.url("/oauth2/jwks")).send().await.unwrap().json().await.unwrap();
    let keys = v["keys"].as_array().unwrap();
    for alg in ["EdDSA", "ES256", "RS256"] {
        assert!(keys.iter().any(|k| k["alg"] == alg), "no {alg} key published");
    }
    keys.iter().filter(|k| k["alg"] == "EdDSA").map(|k| k["kid"].as_str().unwrap().to_string()).collect()
}

fn rotate(s: &Server, activate_in: &str) -> String {
    let out = s.cli(&["key", "rotate", "--activate-in", activate_in, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Value>(&out.stdout).unwrap()["kid"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn rotation_publishes_first_and_keeps_old_tokens_valid() {
    let s = Server::start();
    let (id, secret) = s.create_client(&[]);
    let t1 = access_token(&s, &id, &secret).await;
    let a = kid_of(&t1);

    // Immediate rotation: the next token is signed by the new key.
    let b = rotate(&s, "0s");
    let t2 = access_token(&s, &id, &secret).await;
    assert_eq!(kid_of(&t2), b);
    assert_eq!(jwks_kids(&s).await, vec![a.clone(), b.clone()]);
    assert_eq!(introspect(&s, &id, &secret, &t1).await["active"], true, "tokens of the previous key stay valid");

    // A delayed rotation: published now, not signing yet.
    let c = rotate(&s, "1h");
    assert_eq!(jwks_kids(&s).await, vec![a.clone(), b.clone(), c.clone()]);
    assert_eq!(kid_of(&access_token(&s, &id, &secret).await), b);

    let out = s.cli(&["key", "list", "--json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let status: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == "EdDSA")
        .map(|k| (k["kid"].as_str().unwrap(), k["status"].as_str().unwrap()))
        .collect();
    assert_eq!(status, vec![(a.as_str(), "previous"), (b.as_str(), "active"), (c.as_str(), "next")]);

    let out = s.cli(&["key", "rotate", "--activate-in", "soon"]);
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn revoking_a_key_ends_its_tokens_everywhere() {
    let mut s = Server::start();
    let (id, secret) = s.create_client(&["--introspection"]);
    let t1 = access_token(&s, &id, &secret).await;
    let a = kid_of(&t1);
    assert_eq!(introspect(&s, &id, &secret, &t1).await["active"], true);

    let out = s.cli(&["key", "revoke", &a, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let b = v["replaced_by"].as_str().expect("the signing key was replaced").to_string();
    assert_ne!(a, b);

    // The running server follows before the command's answer is read.
    assert_eq!(introspect(&s, &id, &secret, &t1).await["active"], false, "a token it signed is inactive");
    assert_eq!(jwks_kids(&s).await, vec![b.clone()], "out of the JWKS, the replacement in");
    let t2 = access_token(&s, &id, &secret).await;
    assert_eq!(kid_of(&t2), b, "the new key signs at once");
    assert_eq!(introspect(&s, &id, &secret, &t2).await["active"], true);

    // Resource servers learn it from the revocation feed.
    let feed: Value = http()
        .get(s.url("/oauth2/revocations?after=0"))
        .basic_auth(&id, Some(&secret))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = feed["revocations"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["kind"] == "key" && e["value"] == a.as_str()), "{feed}");

    // It does not come back after a restart.
    s.kill9();
    s.spawn();
    assert_eq!(jwks_kids(&s).await, vec![b.clone()]);
    assert_eq!(introspect(&s, &id, &secret, &t1).await["active"], false);
    let out = s.cli(&["key", "list", "--json"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&a), "key list still shows the revoked key");

    // A key that is not signing is revoked without a replacement.
    let c = rotate(&s, "1h");
    let out = s.cli(&["key", "revoke", &c, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["replaced_by"], Value::Null);
    assert_eq!(jwks_kids(&s).await, vec![b.clone()]);

    // An unknown kid: one line, exit 1, nothing changed.
    let out = s.cli(&["key", "revoke", "no-such-kid"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no-such-kid"), "{err}");
    assert_eq!(kid_of(&access_token(&s, &id, &secret).await), b);
}
