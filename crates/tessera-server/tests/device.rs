//! The device authorization grant (RFC 8628) over HTTP: the device asks for
//! codes and polls, a person approves on the `/device` page, and every
//! answer of §3.5 is seen. The `oauth2` crate runs the device side once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::signin::*;
use common::*;
use serde_json::Value;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn create_tv(s: &Server) -> String {
    let out = s.cli(&[
        "client",
        "create",
        "--name",
        "Living-room TV",
        "--id",
        "tv",
        "--public",
        "--grant-type",
        DEVICE_GRANT,
        "--grant-type",
        "refresh_token",
        "--scope",
        "openid profile offline_access",
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    "tv".into()
}

async fn start(s: &Server, scope: &str) -> Value {
    let r = http()
        .post(s.url("/oauth2/device_authorization"))
        .form(&[("client_id", "tv"), ("scope", scope)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    r.json().await.unwrap()
}

async fn poll(s: &Server, device_code: &str) -> (u16, Value) {
    let r = http()
        .post(s.url("/oauth2/token"))
        .form(&[("grant_type", DEVICE_GRANT), ("client_id", "tv"), ("device_code", device_code)])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Signs in through the page's redirect and returns the confirmation page.
async fn open_verification(b: &Browser, complete_uri: &str) -> Seen {
    let path = complete_uri.split_once("127.0.0.1").unwrap().1;
    let path = &path[path.find('/').unwrap()..];
    let login = b.get(path).await;
    assert!(login.is_login(), "sign in first: {}", login.body);
    assert!(login.field("return_to").unwrap().starts_with("/device?user_code="));
    let back = b.login(&login, "alice", PASSWORD).await;
    assert_eq!(back.status, 303, "{}", back.body);
    b.get(back.location.as_deref().unwrap()).await
}

#[tokio::test]
async fn a_tv_signs_in_through_a_person_on_another_screen() {
    let s = Server::start();
    s.create_user("alice", PASSWORD);
    create_tv(&s);
    let d = start(&s, "openid offline_access").await;
    let user_code = d["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert_eq!(d["verification_uri"], s.url("/device").as_str());
    assert_eq!((d["expires_in"].as_u64(), d["interval"].as_u64()), (Some(600), Some(5)));
    let device_code = d["device_code"].as_str().unwrap();

    let b = Browser::new(&s);
    let confirm = open_verification(&b, d["verification_uri_complete"].as_str().unwrap()).await;
    assert!(confirm.body.contains("Living-room TV") && confirm.body.contains(user_code), "{}", confirm.body);
    let csrf = confirm.field("csrf").unwrap();
    let done = b.post("/device", &[("csrf", &csrf), ("user_code", user_code), ("decision", "approve")]).await;
    assert!(done.body.contains("Device connected"), "{}", done.body);

    let (st, tok) = poll(&s, device_code).await;
    assert_eq!(st, 200, "{tok}");
    assert!(tok["access_token"].is_string() && tok["id_token"].is_string());
    assert!(tok["refresh_token"].as_str().unwrap().starts_with("tsr_rt_"));
    let (st, e) = poll(&s, device_code).await;
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_grant")), "exactly one redemption");
}

#[tokio::test]
async fn every_poll_answer_of_rfc8628() {
    let s = Server::start();
    s.create_user("alice", PASSWORD);
    create_tv(&s);
    let d = start(&s, "openid").await;
    let dc = d["device_code"].as_str().unwrap();
    assert_eq!(poll(&s, dc).await.1["error"], "authorization_pending");
    assert_eq!(poll(&s, dc).await.1["error"], "slow_down", "polled again at once");
    // Denied on the page.
    let b = Browser::new(&s);
    let confirm = open_verification(&b, d["verification_uri_complete"].as_str().unwrap()).await;
    let csrf = confirm.field("csrf").unwrap();
    let uc = d["user_code"].as_str().unwrap().to_lowercase().replace('-', " "); // typed loosely
    let denied = b.post("/device", &[("csrf", &csrf), ("user_code", &uc), ("decision", "deny")]).await;
    assert!(denied.body.contains("Request denied"), "{}", denied.body);
    let d2 = start(&s, "openid").await;
    let (st, e) = poll(&s, d2["device_code"].as_str().unwrap()).await;
    assert_eq!((st, e["error"].as_str()), (400, Some("authorization_pending")));
    tokio::time::sleep(std::time::Duration::from_millis(5100)).await;
    assert_eq!(poll(&s, dc).await.1["error"], "access_denied");
    // Garbage and unknown codes; a client that may not use the grant.
    assert_eq!(poll(&s, "tsr_dc_nope").await.1["error"], "invalid_grant");
    let (id, secret) = s.create_client(&[]);
    let r = http()
        .post(s.url("/oauth2/device_authorization"))
        .basic_auth(&id, Some(&secret))
        .form(&[("scope", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "unauthorized_client");
    let r = http()
        .post(s.url("/oauth2/device_authorization"))
        .form(&[("client_id", "tv"), ("scope", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_scope");
}

#[tokio::test]
async fn wrong_user_codes_are_throttled_and_forms_need_csrf() {
    let s = Server::start();
    s.create_user("alice", PASSWORD);
    create_tv(&s);
    let b = Browser::new(&s);
    let login = b.get("/device").await;
    let page = b.get(b.login(&login, "alice", PASSWORD).await.location.as_deref().unwrap()).await;
    assert!(page.body.contains("Enter the code"), "{}", page.body);
    let csrf = page.field("csrf").unwrap();
    let r = b.post("/device", &[("user_code", "BCDF-GHJK")]).await;
    assert_eq!(r.status, 403, "no CSRF token");
    for _ in 0..5 {
        let r = b.post("/device", &[("csrf", &csrf), ("user_code", "BCDF-GHJK")]).await;
        assert!(r.body.contains("That code is not valid"), "{}", r.body);
    }
    let r = b.post("/device", &[("csrf", &csrf), ("user_code", "BCDF-GHJK")]).await;
    assert_eq!(r.status, 429);
    assert!(r.body.contains("Too many wrong codes"));
}

#[tokio::test]
async fn the_oauth2_crate_runs_the_device_side() {
    use oauth2::basic::BasicClient;
    use oauth2::{
        ClientId, DeviceAuthorizationUrl, Scope, StandardDeviceAuthorizationResponse, TokenResponse, TokenUrl,
    };
    let s = Server::start();
    s.create_user("alice", PASSWORD);
    create_tv(&s);
    let client = BasicClient::new(ClientId::new("tv".into()))
        .set_auth_type(oauth2::AuthType::RequestBody)
        .set_token_uri(TokenUrl::new(s.url("/oauth2/token")).unwrap())
        .set_device_authorization_url(DeviceAuthorizationUrl::new(s.url("/oauth2/device_authorization")).unwrap());
    let http =
        oauth2::reqwest::ClientBuilder::new().redirect(oauth2::reqwest::redirect::Policy::none()).build().unwrap();
    let details: StandardDeviceAuthorizationResponse =
        client.exchange_device_code().add_scope(Scope::new("openid".into())).request_async(&http).await.unwrap();
    let uri = details.verification_uri_complete().unwrap().secret().clone();
    let code = details.user_code().secret().clone();
    let b = Browser::new(&s);
    let approve = async {
        let confirm = open_verification(&b, &uri).await;
        let csrf = confirm.field("csrf").unwrap();
        b.post("/device", &[("csrf", csrf.as_str()), ("user_code", code.as_str()), ("decision", "approve")]).await
    };
    let poll = client.exchange_device_access_token(&details).request_async(&http, tokio::time::sleep, None);
    let (page, token) = tokio::join!(approve, poll);
    assert!(page.body.contains("Device connected"));
    assert!(!token.unwrap().access_token().secret().is_empty());
}

/// A decision form decides only the code its page showed, to the person it
/// showed it to: a token from another page (or the code-entry form) with
/// someone else's code is refused, so codes cannot be approved by guessing.
#[tokio::test]
async fn a_decision_form_decides_only_the_code_it_showed() {
    let s = Server::start();
    s.create_user("alice", PASSWORD);
    create_tv(&s);
    let mine = start(&s, "openid").await;
    let theirs = start(&s, "openid").await;
    let b = Browser::new(&s);
    let confirm = open_verification(&b, mine["verification_uri_complete"].as_str().unwrap()).await;
    let csrf = confirm.field("csrf").unwrap();
    let other = theirs["user_code"].as_str().unwrap();
    let r = b.post("/device", &[("csrf", &csrf), ("user_code", other), ("decision", "approve")]).await;
    assert_eq!(r.status, 403, "a form made for another code: {}", r.body);
    let entry = b.get("/device").await;
    let entry_csrf = entry.field("csrf").unwrap();
    let r = b.post("/device", &[("csrf", &entry_csrf), ("user_code", other), ("decision", "approve")]).await;
    assert_eq!(r.status, 403, "the code-entry form's token decides nothing: {}", r.body);
    let (_, e) = poll(&s, theirs["device_code"].as_str().unwrap()).await;
    assert_eq!(e["error"], "authorization_pending", "still undecided");
    // The form's own code still works.
    let mine_code = mine["user_code"].as_str().unwrap();
    let done = b.post("/device", &[("csrf", &csrf), ("user_code", mine_code), ("decision", "deny")]).await;
    assert!(done.body.contains("Request denied"), "{}", done.body);
}
