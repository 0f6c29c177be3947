//! Refresh tokens over HTTP: 50 racing refreshes with one token, the
//! `oauth2` crate refreshing as a client we did not write, and client
//! credentials never getting one. (Rules that need time to pass are in
//! `tessera-store/tests/refresh_rules.rs`, under an injected clock.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::signin::*;
use common::*;
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, RefreshToken, TokenResponse, TokenUrl};
use serde_json::Value;

/// A confidential app allowed to refresh, and a first token pair for alice.
async fn first_pair(s: &Server) -> (String, String, Value) {
    s.create_user("alice", PASSWORD);
    let (app, secret) = s.create_app(&["--grant-type", "refresh_token", "--scope", "openid offline_access"]);
    let (verifier, challenge) = pkce(11);
    let mut pairs = auth_pairs(&app, &challenge);
    pairs[3] = ("scope", "openid offline_access");
    let code = Browser::new(s).sign_in(&pairs, "alice").await.param("code").unwrap();
    let (st, tok) = redeem(s, &app, Some(&secret), &code, &verifier, REDIRECT).await;
    assert_eq!(st, 200, "{tok}");
    assert!(tok["refresh_token"].as_str().unwrap().starts_with("tsr_rt_"));
    (app, secret, tok)
}

#[tokio::test]
async fn fifty_racing_refreshes_share_one_successor() {
    let s = Server::start();
    let (app, secret, tok) = first_pair(&s).await;
    let rt = tok["refresh_token"].as_str().unwrap().to_string();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (url, app, secret, rt) = (s.url("/oauth2/token"), app.clone(), secret.clone(), rt.clone());
        tasks.push(tokio::spawn(async move {
            let r = http()
                .post(url)
                .basic_auth(&app, Some(&secret))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", rt.as_str())])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }));
    }
    let mut successors = std::collections::HashSet::new();
    for t in tasks {
        let (st, v) = t.await.unwrap();
        match st {
            200 => {
                successors.insert(v["refresh_token"].as_str().unwrap().to_string());
            }
            400 => assert_eq!(v["error"], "invalid_grant", "{v}"),
            other => panic!("status {other}: {v}"),
        }
    }
    assert_eq!(successors.len(), 1, "every 200 carries the same successor");
    // That one family is alive: its successor refreshes.
    let next = successors.into_iter().next().unwrap();
    let r = http()
        .post(s.url("/oauth2/token"))
        .basic_auth(&app, Some(&secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", next.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_oauth2_crate_refreshes_and_sees_rotation() {
    let s = Server::start();
    let (app, secret, tok) = first_pair(&s).await;
    let client = BasicClient::new(ClientId::new(app))
        .set_client_secret(ClientSecret::new(secret))
        .set_token_uri(TokenUrl::new(s.url("/oauth2/token")).unwrap());
    let http =
        oauth2::reqwest::ClientBuilder::new().redirect(oauth2::reqwest::redirect::Policy::none()).build().unwrap();
    let first = RefreshToken::new(tok["refresh_token"].as_str().unwrap().to_string());
    let t1 = client.exchange_refresh_token(&first).request_async(&http).await.unwrap();
    let second = t1.refresh_token().expect("rotation hands out a successor").clone();
    assert_ne!(second.secret(), first.secret());
    let t2 = client.exchange_refresh_token(&second).request_async(&http).await.unwrap();
    assert!(t2.refresh_token().is_some());
    assert_ne!(t2.access_token().secret(), t1.access_token().secret());
}

#[tokio::test]
async fn client_credentials_never_get_a_refresh_token() {
    let s = Server::start();
    let (id, secret) = s.create_client(&[]);
    let (st, v) = token(&s, &id, &secret, &[]).await;
    assert_eq!(st, 200);
    assert!(v.get("refresh_token").is_none());
    let (st, v) = token(&s, &id, &secret, &[("grant_type", "refresh_token"), ("refresh_token", "tsr_rt_x")]).await;
    assert_eq!((st, v["error"].as_str()), (400, Some("invalid_request")), "{v}");
    let r = http()
        .post(s.url("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "tsr_rt_x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "unauthorized_client");
    let out = s.cli(&["client", "create", "--name", "x", "--grant-type", "refresh_token"]);
    assert_eq!(out.status.code(), Some(1), "refresh tokens come only with authorization_code");
}
