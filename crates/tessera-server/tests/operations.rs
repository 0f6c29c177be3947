//! Running the server: a database that cannot write gives 503 and never a
//! false 200; expired rows are purged in the background; SIGTERM stops cleanly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use sqlx::{Connection, Executor};

async fn lock_database(s: &Server) -> sqlx::SqliteConnection {
    let url = format!("sqlite://{}", s.data_dir().join("tessera.db").display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    c.execute("BEGIN EXCLUSIVE").await.unwrap();
    c
}

#[tokio::test]
async fn storage_failure_is_503_never_200() {
    let s = Server::start();
    let (id, secret) = s.create_client(&["--token-format", "opaque"]);
    let (jid, jsecret) = s.create_client(&[]);
    let opaque = access_token(&s, &id, &secret).await;
    let jwt = access_token(&s, &jid, &jsecret).await;

    // Another process holds the write lock longer than the server waits for it.
    let mut lock = lock_database(&s).await;
    let (st, v) = token(&s, &id, &secret, &[]).await;
    assert_eq!((st, v["error"].as_str()), (503, Some("temporarily_unavailable")), "an opaque token it could not store");
    assert_eq!(revoke(&s, &id, &secret, &opaque).await, 503, "a revocation it could not store");
    assert_eq!(revoke(&s, &jid, &jsecret, &jwt).await, 503);
    // Reads and JWT issuance need no write and go on.
    assert_eq!(token(&s, &jid, &jsecret, &[]).await.0, 200);
    assert_eq!(introspect(&s, &id, &secret, &opaque).await["active"], true);
    lock.execute("ROLLBACK").await.unwrap();

    // The server recovers by itself, and nothing was revoked by the failed calls.
    assert_eq!(introspect(&s, &jid, &jsecret, &jwt).await["active"], true);
    assert_eq!(revoke(&s, &id, &secret, &opaque).await, 200);
    assert_eq!(introspect(&s, &id, &secret, &opaque).await["active"], false);
    assert_eq!(token(&s, &id, &secret, &[]).await.0, 200);
}

#[tokio::test]
async fn expired_tokens_and_revocations_are_purged() {
    let s = Server::start_with(&[("TESSERA_PURGE_INTERVAL", "1s")]);
    let (id, secret) = s.create_client(&["--token-format", "opaque"]);
    let (jid, jsecret) = s.create_client(&[]);
    let out = s.cli(&["token", "mint", "--client", &id, "--ttl", "1s"]);
    assert!(out.status.success());
    let out = s.cli(&["token", "mint", "--client", &jid, "--ttl", "2s"]);
    let short_jwt = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(revoke(&s, &jid, &jsecret, &short_jwt).await, 200);
    let long_lived = access_token(&s, &id, &secret).await;
    let url = format!("sqlite://{}", s.data_dir().join("tessera.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
    assert_eq!(count("SELECT COUNT(*) FROM access_tokens").fetch_one(&mut db).await.unwrap(), 2);
    assert_eq!(count("SELECT COUNT(*) FROM revocations").fetch_one(&mut db).await.unwrap(), 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let tokens: i64 = count("SELECT COUNT(*) FROM access_tokens").fetch_one(&mut db).await.unwrap();
        let revs: i64 = count("SELECT COUNT(*) FROM revocations").fetch_one(&mut db).await.unwrap();
        if tokens == 1 && revs == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not purged: {tokens} tokens, {revs} revocations");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(introspect(&s, &id, &secret, &long_lived).await["active"], true, "only expired rows go");
}

#[tokio::test]
async fn sigterm_stops_gracefully() {
    let mut s = Server::start();
    let pid = s.child.as_ref().unwrap().id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut child = s.child.take().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(std::time::Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    assert!(s.logs().contains("tessera stopped"), "{}", s.logs());
}
