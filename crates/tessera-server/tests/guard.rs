//! tessera-guard and tessera-client against the real `tessera` binary: the
//! revocation feed end to end (delay measured), opaque tokens, deleted
//! clients, key rotation under load, and the feed endpoint's own rules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Server, access_token, http, introspect, revoke, token};
use tessera_client::{ClientAuth, TokenSource};
use tessera_guard::{Guard, Invalid, Rejection};

const API: &str = "https://inventory.example";

struct Setup {
    server: Server,
    guard: Guard,
    app: (String, String),
    api: (String, String),
}

async fn setup(app_extra: &[&str]) -> Setup {
    let server = Server::start();
    let api = server.create_client(&["--introspection"]);
    let mut args = vec!["--scope", "inventory:read inventory:write", "--audience", API];
    args.extend_from_slice(app_extra);
    let app = server.create_client(&args);
    let guard = Guard::builder(server.issuer(), API).client_credentials(&api.0, &api.1).build().await.unwrap();
    Setup { server, guard, app, api }
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[((v.len() * 99).div_ceil(100)).saturating_sub(1)]
}

/// Spins until the guard refuses `token`; the delay from the revocation's
/// success answer to the first refused request.
async fn refusal_delay(guard: &Guard, token: &str, since: Instant) -> Duration {
    loop {
        match guard.validate(token).await {
            // Opaque tokens may be re-introspected once the feed drops them.
            Err(Rejection::Invalid(Invalid::Revoked | Invalid::Inactive)) => return since.elapsed(),
            Err(other) => panic!("refused for the wrong reason: {other:?}"),
            Ok(_) if since.elapsed() > Duration::from_secs(5) => panic!("still accepted 5 s after revocation"),
            Ok(_) => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
}

#[tokio::test]
async fn a_revoked_jwt_is_refused_within_a_second() {
    let s = setup(&[]).await;
    // tessera-client gets the token; the guard accepts it.
    let source = TokenSource::client_credentials(s.server.issuer(), ClientAuth::basic(&s.app.0, &s.app.1))
        .scope("inventory:read")
        .resource(API)
        .build()
        .unwrap();
    let t = source.token().await.unwrap();
    let who = s.guard.validate(t.secret()).await.unwrap();
    assert_eq!(who.client_id(), s.app.0);
    assert!(who.has_scope("inventory:read") && !who.has_scope("inventory:write"));

    let mut delays = Vec::new();
    for _ in 0..40 {
        let tok = access_token(&s.server, &s.app.0, &s.app.1).await;
        s.guard.validate(&tok).await.unwrap();
        assert_eq!(revoke(&s.server, &s.app.0, &s.app.1, &tok).await, 200);
        delays.push(refusal_delay(&s.guard, &tok, Instant::now()).await);
    }
    let worst = p99(delays.clone());
    eprintln!("revocation → refusal over 40 revocations: p99 {worst:?}, max {:?}", delays.iter().max().unwrap());
    assert!(worst < Duration::from_secs(1), "p99 {worst:?}");
}

#[tokio::test]
async fn opaque_tokens_are_introspected_and_revocations_drop_them() {
    let s = setup(&["--token-format", "opaque"]).await;
    let tok = access_token(&s.server, &s.app.0, &s.app.1).await;
    assert!(tok.starts_with("tsr_at_"));
    let who = s.guard.validate(&tok).await.unwrap();
    assert_eq!(who.kind(), tessera_guard::TokenKind::Opaque);
    assert_eq!(revoke(&s.server, &s.app.0, &s.app.1, &tok).await, 200);
    refusal_delay(&s.guard, &tok, Instant::now()).await;
}

#[tokio::test]
async fn deleting_a_client_kills_its_jwts_at_the_api() {
    let s = setup(&[]).await;
    let tok = access_token(&s.server, &s.app.0, &s.app.1).await;
    s.guard.validate(&tok).await.unwrap();
    let out = s.server.cli(&["client", "delete", &s.app.0]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let took = refusal_delay(&s.guard, &tok, Instant::now()).await;
    assert!(took < Duration::from_secs(1), "{took:?}");

    // A client re-created under the same id does not revive its
    // predecessor's tokens, in the server's own introspection either.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let again = s.server.create_client(&["--id", &s.app.0, "--scope", "inventory:read", "--audience", API]);
    assert_eq!(introspect(&s.server, &s.api.0, &s.api.1, &tok).await["active"], false);
    let fresh = access_token(&s.server, &again.0, &again.1).await;
    assert_eq!(introspect(&s.server, &s.api.0, &s.api.1, &fresh).await["active"], true);
    s.guard.validate(&fresh).await.unwrap();
    assert!(s.guard.validate(&tok).await.is_err());
}

#[tokio::test]
async fn key_rotation_under_load_fails_no_request() {
    let s = setup(&[]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (guard, issuer, app) = (s.guard.clone(), s.server.issuer(), s.app.clone());
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            let client = http();
            while !stop.load(Ordering::Relaxed) {
                let r = client
                    .post(format!("{issuer}/oauth2/token"))
                    .basic_auth(&app.0, Some(&app.1))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .unwrap();
                let v: serde_json::Value = r.json().await.unwrap();
                let tok = v["access_token"].as_str().unwrap();
                match guard.validate(tok).await {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        eprintln!("refused during rotation: {e:?}");
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The worst case: the new key signs at once, with no pre-publication.
    for _ in 0..2 {
        let out = s.server.cli(&["key", "rotate", "--activate-in", "0s"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        tokio::time::sleep(Duration::from_millis(1_500)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("{ok} tokens accepted, {failed} refused across two key rotations");
    assert_eq!(failed, 0);
    assert!(ok > 50, "too little load: {ok}");
    assert!(s.guard.key_count() >= 2);
}

#[tokio::test]
async fn the_feed_endpoint_is_for_resource_servers_only() {
    let s = setup(&[]).await;
    let feed = s.server.url("/oauth2/revocations");
    let r = http().get(&feed).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http().get(&feed).basic_auth(&s.app.0, Some(&s.app.1)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "unauthorized_client");
    let r = http().get(format!("{feed}?client_id={}&client_secret={}", s.api.0, s.api.1)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    for bad in ["after=-1", "wait=999", "limit=0x10"] {
        let r = http().get(format!("{feed}?{bad}")).basic_auth(&s.api.0, Some(&s.api.1)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
    // A long-poll answers as soon as a revocation lands, with it.
    let head: serde_json::Value =
        http().get(&feed).basic_auth(&s.api.0, Some(&s.api.1)).send().await.unwrap().json().await.unwrap();
    let after = head["head"].as_i64().unwrap();
    let poll = http().get(format!("{feed}?after={after}&wait=20")).basic_auth(&s.api.0, Some(&s.api.1)).send();
    let tok = access_token(&s.server, &s.app.0, &s.app.1).await;
    let revoker = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let at = Instant::now();
        assert_eq!(revoke(&s.server, &s.app.0, &s.app.1, &tok).await, 200);
        at
    };
    let (r, revoked_at) = tokio::join!(poll, revoker);
    let r = r.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(revoked_at.elapsed() < Duration::from_secs(2));
    let entries = v["revocations"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{v}");
    assert_eq!(entries[0]["kind"], "jti");
    assert_eq!(entries[0]["client_id"], s.app.0.as_str());
    assert!(entries[0]["seq"].as_i64().unwrap() > after);
    // Metadata advertises the feed.
    let m: serde_json::Value =
        http().get(s.server.url("/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap();
    assert_eq!(m["revocation_feed_endpoint"], s.server.url("/oauth2/revocations"));
    let _ = token;
}
