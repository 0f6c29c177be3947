//! The refresh-token source: rotation, the persistence hook, `invalid_grant`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::{Arc, Mutex};

use support::{Stub, fast_retry};
use tessera_client::{ClientAuth, Error, ErrorCode, RefreshToken, TokenSource};

#[tokio::test]
async fn keeps_the_rotated_refresh_token_and_reports_it() {
    let stub = Stub::start().await;
    stub.set_refresh_valid(Some("rt-0"));
    let persisted = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&persisted);
    let source = TokenSource::from_refresh_token(&stub.base, ClientAuth::public("spa"), RefreshToken::new("rt-0"))
        .scope("read")
        .retry(fast_retry(3))
        .on_refresh_token(move |rt| sink.lock().unwrap().push(rt.secret().to_owned()))
        .build()
        .unwrap();

    assert_eq!(source.token().await.unwrap().secret(), "at-1");
    assert_eq!(*persisted.lock().unwrap(), ["rt-1"]);
    assert_eq!(source.current_refresh_token().unwrap().secret(), "rt-1");

    source.invalidate();
    assert_eq!(source.token().await.unwrap().secret(), "at-2");
    assert_eq!(*persisted.lock().unwrap(), ["rt-1", "rt-2"]);
    assert_eq!(source.current_refresh_token().unwrap().secret(), "rt-2");

    let seen = stub.seen();
    assert_eq!(seen.len(), 2);
    // Each request spent the newest token, never an old one.
    assert_eq!(seen[0].param("refresh_token"), Some("rt-0"));
    assert_eq!(seen[1].param("refresh_token"), Some("rt-1"));
    for s in &seen {
        assert_eq!(s.param("grant_type"), Some("refresh_token"));
        assert_eq!(s.param("client_id"), Some("spa"), "public clients identify themselves");
        assert_eq!(s.param("scope"), Some("read"));
        assert_eq!(s.authorization, None);
    }
    assert_eq!(stub.refresh_valid().as_deref(), Some("rt-2"), "the family is intact");
}

#[tokio::test]
async fn a_server_that_does_not_rotate_leaves_the_old_token() {
    let stub = Stub::start().await;
    stub.script([support::Reply::token_json(
        serde_json::json!({"access_token": "at-x", "token_type": "bearer", "expires_in": 60}),
    )]);
    let calls = Arc::new(Mutex::new(0));
    let c = Arc::clone(&calls);
    let source = TokenSource::from_refresh_token(&stub.base, ClientAuth::basic("web", "pw"), RefreshToken::new("rt-0"))
        .on_refresh_token(move |_| *c.lock().unwrap() += 1)
        .build()
        .unwrap();
    assert_eq!(source.token().await.unwrap().secret(), "at-x");
    assert_eq!(source.current_refresh_token().unwrap().secret(), "rt-0");
    assert_eq!(*calls.lock().unwrap(), 0);
    assert!(stub.seen()[0].authorization.as_deref().unwrap().starts_with("Basic "));
}

#[tokio::test]
async fn invalid_grant_retires_the_source() {
    let stub = Stub::start().await;
    stub.set_refresh_valid(Some("rt-0"));
    let source = TokenSource::from_refresh_token(&stub.base, ClientAuth::public("spa"), RefreshToken::new("rt-0"))
        .retry(fast_retry(5))
        .build()
        .unwrap();
    source.token().await.unwrap();

    stub.set_refresh_valid(None); // the grant was revoked server-side
    source.invalidate();
    let err = source.token().await.unwrap_err();
    assert!(matches!(err, Error::Rejected { code: ErrorCode::InvalidGrant, .. }), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(stub.token_hits(), 2, "invalid_grant is not retried");

    // Unusable from now on, without another request.
    source.invalidate();
    assert_eq!(source.token().await.unwrap_err().oauth_code(), Some(ErrorCode::InvalidGrant));
    assert_eq!(stub.token_hits(), 2);
    assert!(source.current_refresh_token().is_none());
}

#[test]
fn empty_refresh_token_is_a_config_error() {
    let b = TokenSource::from_refresh_token("https://as.example", ClientAuth::public("spa"), RefreshToken::new(""));
    assert!(matches!(b.build(), Err(Error::Config(_))));
}

#[test]
fn debug_hides_the_refresh_token() {
    let b = TokenSource::from_refresh_token(
        "https://as.example",
        ClientAuth::public("spa"),
        RefreshToken::new("rt-SECRET"),
    );
    let s = format!("{b:?}");
    assert!(!s.contains("rt-SECRET") && s.contains("[redacted]"), "{s}");
    let source = b.build().unwrap();
    assert!(!format!("{source:?} {:?}", source.current_refresh_token()).contains("rt-SECRET"));
}
