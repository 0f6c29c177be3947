//! Requests and connections are bounded: a whole-request timeout that
//! answers 503 `temporarily_unavailable` (never a hang, never a token that
//! was not stored), slowloris connections that neither starve normal
//! requests nor stay open, and a cap on open connections.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn a_request_that_takes_too_long_is_answered_503_and_stores_nothing() {
    let s = Server::start_with(&[("TESSERA_REQUEST_TIMEOUT", "1s")]);
    let (id, secret) = s.create_client(&["--token-format", "opaque"]);
    let (api, api_secret) = s.create_client(&["--introspection"]);
    // Another process holds SQLite's write lock: the token cannot be stored
    // (the store would wait 5 s for it).
    let url = format!("sqlite://{}", s.data_dir().join("tessera.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut db).await.unwrap();
    let started = Instant::now();
    let (status, body) = token(&s, &id, &secret, &[]).await;
    let took = started.elapsed();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(took < Duration::from_secs(3), "answered after {took:?}");
    sqlx::query("ROLLBACK").execute(&mut db).await.unwrap();
    drop(db);
    // The server is fine afterwards, and every token it hands out is stored.
    let tok = access_token(&s, &id, &secret).await;
    assert_eq!(introspect(&s, &api, &api_secret, &tok).await["active"], true);
}

#[tokio::test]
async fn the_revocation_long_poll_outlasts_the_request_timeout() {
    let s = Server::start_with(&[("TESSERA_REQUEST_TIMEOUT", "1s")]);
    let (api, api_secret) = s.create_client(&["--introspection"]);
    let started = Instant::now();
    let r = http().get(s.url("/oauth2/revocations?wait=3")).basic_auth(&api, Some(&api_secret)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v["revocations"].as_array().unwrap().is_empty());
    assert!(started.elapsed() >= Duration::from_secs(3), "the wait was cut short");
}

/// A connection that sends its headers one byte at a time, forever.
async fn slowloris(port: u16) -> Option<TcpStream> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.ok()?;
    Some(c)
}

/// One normal request on a new connection; how long it took.
async fn normal_request(s: &Server) -> Duration {
    let started = Instant::now();
    let r = http().get(s.url("/.well-known/openid-configuration")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    started.elapsed()
}

#[tokio::test]
async fn slowloris_does_not_starve_normal_requests_and_is_closed() {
    let s = Server::start();
    let (id, secret) = s.create_client(&[]);
    let mut slow = Vec::new();
    for _ in 0..300 {
        slow.push(slowloris(s.port).await.expect("connect"));
    }
    let drip_until = Instant::now() + Duration::from_secs(14);
    let mut closed_at = Vec::new();
    let drip = tokio::spawn(async move {
        // One byte every 500 ms on each: never a whole header block.
        let mut open = slow.len();
        while Instant::now() < drip_until && open > 0 {
            open = 0;
            for c in slow.iter_mut() {
                if c.write_all(b"a").await.is_ok() {
                    open += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // The server closed them: a read sees the end (or a reset).
        for c in slow.iter_mut() {
            let mut buf = [0u8; 256];
            let r = tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf)).await;
            closed_at.push(matches!(r, Ok(Ok(_)) | Ok(Err(_))));
        }
        closed_at
    });
    for _ in 0..20 {
        let took = normal_request(&s).await;
        assert!(took < Duration::from_secs(2), "a normal request took {took:?}");
        assert_eq!(token(&s, &id, &secret, &[]).await.0, 200);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let closed = drip.await.unwrap();
    assert!(closed.iter().all(|c| *c), "{} slow connections still open", closed.iter().filter(|c| !**c).count());
}

#[tokio::test]
async fn past_the_connection_cap_new_connections_wait_for_a_free_slot() {
    let s = Server::start_with(&[("TESSERA_MAX_CONNECTIONS", "50")]);
    // `Server::start` polled /healthz on connections that are closed by now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(slowloris(s.port).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The 51st connection is not served until the header timeout (10 s)
    // closes the slow ones; then it is, and nothing hangs.
    let started = Instant::now();
    let took = normal_request(&s).await;
    assert!(took >= Duration::from_secs(5), "served at once past the cap ({took:?})");
    assert!(started.elapsed() < Duration::from_secs(15), "{took:?}");
    // With slots free again, requests are served at once.
    assert!(normal_request(&s).await < Duration::from_secs(2));
    drop(idle);
}
