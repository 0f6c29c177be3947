//! `tessera backup`: a consistent copy of the live SQLite database, taken
//! while the server issues tokens, restores into a working server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use sqlx::Connection;
use tokio::sync::Mutex;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_load_restores_every_acknowledged_token() {
    let mut s = Server::start();
    let (id, secret) = s.create_client(&["--token-format", "opaque"]);
    let issued = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (issued, stop, client, url) = (issued.clone(), stop.clone(), http(), s.url("/oauth2/token"));
        let (id, secret) = (id.clone(), secret.clone());
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let r = client
                    .post(&url)
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                let v: serde_json::Value = r.json().await.unwrap();
                issued.lock().await.push(v["access_token"].as_str().unwrap().to_string());
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Every token acknowledged so far must be in the copy.
    let before = issued.lock().await.clone();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tessera-backup.db");
    let (args, data_dir, issuer) = (file.to_str().unwrap().to_string(), s.data_dir(), s.issuer());
    let a = args.clone();
    let started = std::time::Instant::now();
    let out = tokio::task::spawn_blocking(move || cli_in(&data_dir, &issuer, &["backup", &a])).await.unwrap();
    let took = started.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("master key is not in it"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    assert!(before.len() > 20, "load too light to mean anything: {}", before.len());

    // One self-contained file, readable only by its owner, never overwritten.
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(!dir.path().join("tessera-backup.db-wal").exists());
    let again = s.cli(&["backup", &args]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!((again.status.code(), err.trim().lines().count()), (Some(1), 1), "{err}");
    assert!(err.contains("cannot back up"), "{err}");
    let mut copy = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", file.display())).await.unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut copy).await.unwrap();
    assert_eq!(check, "ok");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM access_tokens").fetch_one(&mut copy).await.unwrap();
    assert!(rows >= before.len() as i64, "{rows} rows, {} acknowledged", before.len());
    drop(copy);

    // Restore: stop, replace the database (its WAL goes too), start with the same master key.
    s.kill9();
    let db = s.data_dir().join("tessera.db");
    for f in ["tessera.db-wal", "tessera.db-shm"] {
        let _ = std::fs::remove_file(s.data_dir().join(f));
    }
    std::fs::copy(&file, &db).unwrap();
    s.spawn();
    for t in &before {
        assert_eq!(introspect(&s, &id, &secret, t).await["active"], true, "acknowledged token missing from the backup");
    }
    eprintln!("backup under load took {took:?} ({rows} token rows); {} acknowledged tokens restored", before.len());
}

#[test]
fn backup_of_postgres_points_to_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli_env(
        dir.path(),
        "http://127.0.0.1:8080",
        &["backup", dir.path().join("b.db").to_str().unwrap()],
        &[("TESSERA_DATABASE_URL", "postgres://u:hunter2@127.0.0.1:1/tessera")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!((out.status.code(), err.trim().lines().count()), (Some(1), 1), "{err}");
    assert!(err.contains("pg_dump") && !err.contains("hunter2"), "{err}");
    assert!(!dir.path().join("b.db").exists());
}
