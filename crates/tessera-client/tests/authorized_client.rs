//! The reqwest wrapper: bearer header, one retry on 401, no loop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::Ordering;

use reqwest::StatusCode;
use support::{Stub, fast_retry};
use tessera_client::{AuthorizedClient, ClientAuth, TokenSource};

async fn client(stub: &Stub) -> AuthorizedClient {
    let source = TokenSource::client_credentials(&stub.base, ClientAuth::basic("svc", "s3cret"))
        .retry(fast_retry(2))
        .build()
        .unwrap();
    AuthorizedClient::new(reqwest::Client::new(), source)
}

#[tokio::test]
async fn adds_the_bearer_header() {
    let stub = Stub::start().await;
    let api = client(&stub).await;
    let resp = api.get(stub.url("/api/items")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), "items");
    let resp = api.execute(api.post(stub.url("/api/items")).body("x").build().unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(stub.api_seen(), [Some("Bearer at-1".to_owned()), Some("Bearer at-1".to_owned())]);
    assert_eq!(stub.token_hits(), 1);
}

#[tokio::test]
async fn retries_once_with_a_fresh_token_on_401() {
    let stub = Stub::start().await;
    let api = client(&stub).await;
    let old = api.source().token().await.unwrap();
    stub.revoke(old.secret());

    let resp = api.post(stub.url("/api/items")).json(&serde_json::json!({"n": 1})).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(stub.api_seen(), [Some("Bearer at-1".to_owned()), Some("Bearer at-2".to_owned())]);
    assert_eq!((stub.api_hits(), stub.token_hits()), (2, 2));

    // The new token is cached for later requests.
    api.get(stub.url("/api/items")).send().await.unwrap();
    assert_eq!((stub.api_hits(), stub.token_hits()), (3, 2));
}

#[tokio::test]
async fn does_not_loop_on_a_second_401() {
    let stub = Stub::start().await;
    stub.state.api_always_401.store(true, Ordering::SeqCst);
    let api = client(&stub).await;
    let resp = api.get(stub.url("/api/items")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!((stub.api_hits(), stub.token_hits()), (2, 2));
}

#[tokio::test]
async fn token_errors_surface_before_any_api_call() {
    let stub = Stub::start().await;
    stub.script([support::Reply::oauth_error(401, "invalid_client", "no")]);
    let api = client(&stub).await;
    let err = api.get(stub.url("/api/items")).send().await.unwrap_err();
    assert_eq!(err.oauth_code(), Some(tessera_client::ErrorCode::InvalidClient));
    assert_eq!(stub.api_hits(), 0);
}

#[tokio::test]
async fn token_never_goes_in_the_url_and_replaces_caller_authorization() {
    let stub = Stub::start().await;
    let api = client(&stub).await;
    let resp = api
        .get(stub.url("/api/items"))
        .query(&[("page", "2")])
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.url().query(), Some("page=2"));
    assert_eq!(stub.api_seen(), [Some("Bearer at-1".to_owned())]);
}
