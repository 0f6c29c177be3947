//! The deprecated implicit grant (RFC 6749 §4.2): off unless a client opts
//! in; then a short-lived access token in the fragment, never a refresh
//! token, and every other check of the authorization endpoint still applies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::signin::*;
use common::*;
use serde_json::Value;

fn fragment(location: &str) -> Vec<(String, String)> {
    let (_, f) = location.split_once('#').unwrap_or_else(|| panic!("no fragment in {location}"));
    form_urlencoded::parse(f.as_bytes()).into_owned().collect()
}

fn get<'a>(f: &'a [(String, String)], k: &str) -> Option<&'a str> {
    f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn implicit_pairs(client: &str) -> Vec<(&str, &str)> {
    vec![
        ("response_type", "token"),
        ("client_id", client),
        ("redirect_uri", REDIRECT),
        ("scope", "openid offline_access"),
        ("state", "st-1"),
    ]
}

async fn response_types(s: &Server) -> Value {
    let m: Value = http().get(s.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    m["response_types_supported"].clone()
}

#[tokio::test]
async fn off_by_default_then_a_short_token_in_the_fragment() {
    let s = Server::start();
    s.create_user("alice", PASSWORD);
    let (plain, _) = s.create_app(&["--scope", "openid offline_access"]);
    assert_eq!(response_types(&s).await, serde_json::json!(["code"]));
    let b = Browser::new(&s);
    let r = b.authorize(&implicit_pairs(&plain)).await;
    let f = fragment(r.location.as_deref().unwrap());
    assert_eq!(get(&f, "error"), Some("unsupported_response_type"));
    assert_eq!((get(&f, "state"), get(&f, "iss")), (Some("st-1"), Some(s.issuer().as_str())));

    let (legacy, _) = s.create_app(&[
        "--allow-implicit",
        "--grant-type",
        "refresh_token",
        "--scope",
        "openid offline_access",
        "--access-token-ttl",
        "1h",
    ]);
    assert_eq!(response_types(&s).await, serde_json::json!(["code", "token"]), "advertised while a client allows it");
    let r = b.sign_in(&implicit_pairs(&legacy), "alice").await;
    let loc = r.location.clone().unwrap();
    assert!(loc.starts_with(&format!("{REDIRECT}#")), "{loc}");
    let f = fragment(&loc);
    let at = get(&f, "access_token").unwrap();
    assert_eq!(get(&f, "token_type"), Some("Bearer"));
    assert_eq!(get(&f, "expires_in"), Some("300"), "short-lived whatever the client's setting");
    assert_eq!((get(&f, "state"), get(&f, "iss")), (Some("st-1"), Some(s.issuer().as_str())));
    assert!(get(&f, "refresh_token").is_none() && get(&f, "code").is_none());
    let info = http().get(s.url("/oauth2/userinfo")).bearer_auth(at).send().await.unwrap();
    assert_eq!(info.status(), 200);
    // The grant is listed and revocable like any other.
    let out = s.cli(&["grant", "list", "--client", &legacy, "--json"]);
    let grants: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(grants.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn every_other_check_still_applies() {
    let s = Server::start();
    let (legacy, _) = s.create_app(&["--allow-implicit", "--scope", "openid"]);
    let b = Browser::new(&s);
    let mut bad = implicit_pairs(&legacy);
    bad[2] = ("redirect_uri", "https://app.example.com/cb/");
    let r = b.authorize(&bad).await;
    assert_eq!((r.status, r.location.is_none()), (400, true), "exact redirect matching: an error page");
    let r = b.authorize(&implicit_pairs(&legacy)).await;
    let f = fragment(r.location.as_deref().unwrap());
    assert_eq!(get(&f, "error"), Some("invalid_scope"), "offline_access is not this client's");
    let out = s.cli(&["client", "create", "--name", "x", "--allow-implicit", "--grant-type", "client_credentials"]);
    assert_eq!(out.status.code(), Some(1));
}
