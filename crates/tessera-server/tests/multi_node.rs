//! Several `tessera serve` processes on one PostgreSQL act as one server:
//! single-use credentials race across nodes and exactly one wins, a
//! revocation on one node is in the other's introspection and feed within a
//! second (delay measured), client and key changes are seen at once, and
//! killing a node with -9 loses nothing it acknowledged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::pg::Cluster;
use common::signin::*;
use common::*;
use serde_json::Value;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn post_form(s: &Server, path: &str, auth: Option<(&str, &str)>, form: &[(&str, &str)]) -> (u16, Value) {
    let mut r = http().post(s.url(path)).form(form);
    if let Some((id, secret)) = auth {
        r = r.basic_auth(id, Some(secret));
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Runs `n` copies of `f(i)` at once; node `i % 2` is the one to use.
async fn race<F, Fut>(n: usize, f: F) -> Vec<(u16, Value)>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = (u16, Value)> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(f(i))).collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[((v.len() * 99).div_ceil(100)).saturating_sub(1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn codes_refresh_tokens_and_device_codes_are_single_use_across_nodes() {
    let c = Cluster::start(2);
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    a.create_user("alice", PASSWORD);
    let (app, secret) = a.create_app(&["--grant-type", "refresh_token", "--scope", "openid offline_access"]);

    // An authorization code, signed in for on node B, redeemed by 16
    // concurrent requests split across both nodes.
    let (verifier, challenge) = pkce(7);
    let mut pairs = auth_pairs(&app, &challenge);
    pairs[3] = ("scope", "openid offline_access");
    let code = Browser::new(b).sign_in(&pairs, "alice").await.param("code").unwrap();
    let urls = [a.url("/oauth2/token"), b.url("/oauth2/token")];
    let answers = race(16, |i| {
        let (url, app, secret, code, verifier) =
            (urls[i % 2].clone(), app.clone(), secret.clone(), code.clone(), verifier.clone());
        async move {
            let r = http()
                .post(url)
                .basic_auth(&app, Some(&secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", &verifier),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json().await.unwrap())
        }
    })
    .await;
    let won: Vec<_> = answers.iter().filter(|(st, _)| *st == 200).collect();
    assert_eq!(won.len(), 1, "exactly one redemption: {answers:?}");
    for (st, v) in answers.iter().filter(|(st, _)| *st != 200) {
        assert_eq!((*st, v["error"].as_str()), (400, Some("invalid_grant")), "{v}");
    }
    // The replays revoked what the code had issued (RFC 6749 §4.1.2), on
    // both nodes: a fresh sign-in gives the refresh token to race with.
    // The revocation may have been recorded on the other node: it reaches
    // this one within a second (it may even have run before the winner
    // stored its refresh token; the revocation entry still refuses it).
    let replayed = won[0].1["refresh_token"].as_str().unwrap().to_string();
    for url in &urls {
        within_a_second("a replayed code's refresh token refused", async || {
            let r = http()
                .post(url)
                .basic_auth(&app, Some(&secret))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", replayed.as_str())])
                .send()
                .await
                .unwrap();
            r.status() == 400
        })
        .await;
    }
    let (verifier, challenge) = pkce(8);
    let mut pairs = auth_pairs(&app, &challenge);
    pairs[3] = ("scope", "openid offline_access");
    let code = Browser::new(a).sign_in(&pairs, "alice").await.param("code").unwrap();
    let (st, tok) = redeem(b, &app, Some(&secret), &code, &verifier, REDIRECT).await;
    assert_eq!(st, 200, "{tok}");
    let rt = tok["refresh_token"].as_str().unwrap().to_string();

    // One refresh token, 32 concurrent refreshes across both nodes: one
    // rotation, so every success carries the same successor.
    let answers = race(32, |i| {
        let (url, app, secret, rt) = (urls[i % 2].clone(), app.clone(), secret.clone(), rt.clone());
        async move {
            let r = http()
                .post(url)
                .basic_auth(&app, Some(&secret))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", rt.as_str())])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json().await.unwrap())
        }
    })
    .await;
    let mut successors = HashSet::new();
    for (st, v) in &answers {
        match st {
            200 => {
                successors.insert(v["refresh_token"].as_str().unwrap().to_string());
            }
            400 => assert_eq!(v["error"], "invalid_grant", "{v}"),
            other => panic!("status {other}: {v}"),
        }
    }
    assert_eq!(successors.len(), 1, "one rotation across both nodes: {answers:?}");

    // A device code approved through node A, polled by 16 requests across both.
    let out = c.cli(&[
        "client",
        "create",
        "--name",
        "TV",
        "--id",
        "tv",
        "--public",
        "--grant-type",
        DEVICE_GRANT,
        "--scope",
        "openid",
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (st, d) = post_form(b, "/oauth2/device_authorization", None, &[("client_id", "tv"), ("scope", "openid")]).await;
    assert_eq!(st, 200, "{d}");
    let browser = Browser::new(a);
    let user_code = d["user_code"].as_str().unwrap().to_string();
    let login = browser.get(&format!("/device?user_code={user_code}")).await;
    let back = browser.login(&login, "alice", PASSWORD).await;
    let confirm = browser.get(back.location.as_deref().unwrap()).await;
    let csrf = confirm.field("csrf").unwrap();
    let done = browser.post("/device", &[("csrf", &csrf), ("user_code", &user_code), ("decision", "approve")]).await;
    assert!(done.body.contains("Device connected"), "{}", done.body);
    let device_code = d["device_code"].as_str().unwrap().to_string();
    let answers = race(16, |i| {
        let (url, dc) = (urls[i % 2].clone(), device_code.clone());
        async move {
            let r = http()
                .post(url)
                .form(&[("grant_type", DEVICE_GRANT), ("client_id", "tv"), ("device_code", dc.as_str())])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json().await.unwrap())
        }
    })
    .await;
    let won = answers.iter().filter(|(st, _)| *st == 200).count();
    assert_eq!(won, 1, "exactly one device-code redemption: {answers:?}");
    for (st, v) in answers.iter().filter(|(st, _)| *st != 200) {
        assert_eq!(*st, 400, "{v}");
        assert!(["invalid_grant", "slow_down"].contains(&v["error"].as_str().unwrap()), "{v}");
    }
}

/// Polls `node`'s introspection until `tok` is inactive; the delay since `since`.
async fn inactive_after(node: &Server, api: &(String, String), tok: &str, since: Instant) -> Duration {
    loop {
        if introspect(node, &api.0, &api.1, tok).await["active"] == false {
            return since.elapsed();
        }
        assert!(since.elapsed() < Duration::from_secs(5), "still active 5 s after revocation");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocations_reach_the_other_node_within_a_second() {
    let c = Cluster::start(2);
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let api = a.create_client(&["--introspection"]);
    let jwt_app = a.create_client(&[]);
    let opaque_app = a.create_client(&["--token-format", "opaque"]);

    let mut delays = Vec::new();
    for i in 0..30 {
        let (here, there) = if i % 2 == 0 { (a, b) } else { (b, a) };
        let app = if i % 3 == 0 { &opaque_app } else { &jwt_app };
        let tok = access_token(here, &app.0, &app.1).await;
        assert_eq!(introspect(there, &api.0, &api.1, &tok).await["active"], true);
        // A feed reader on the other node, long-polling from the current head.
        let head: Value = http()
            .get(there.url("/oauth2/revocations?after=0&limit=1"))
            .basic_auth(&api.0, Some(&api.1))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let head = head["head"].as_i64().unwrap();
        let feed = tokio::spawn({
            let (url, api) = (there.url(&format!("/oauth2/revocations?after={head}&wait=10")), api.clone());
            async move {
                let start = Instant::now();
                let v: Value =
                    http().get(url).basic_auth(&api.0, Some(&api.1)).send().await.unwrap().json().await.unwrap();
                (v, start)
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(revoke(here, &app.0, &app.1, &tok).await, 200);
        let revoked = Instant::now();
        delays.push(inactive_after(there, &api, &tok, revoked).await);
        let (v, _) = feed.await.unwrap();
        assert_eq!(v["revocations"].as_array().map(Vec::len), Some(1), "{v}");
        let fed = revoked.elapsed();
        assert!(fed < Duration::from_secs(1), "the other node's feed answered after {fed:?}");
    }
    let worst = p99(delays.clone());
    eprintln!(
        "revocation on one node → inactive on the other, 30 revocations: p50 {:?}, p99 {worst:?}, max {:?}",
        {
            let mut d = delays.clone();
            d.sort();
            d[d.len() / 2]
        },
        delays.iter().max().unwrap()
    );
    assert!(worst < Duration::from_secs(1), "p99 {worst:?}");
}

/// Polls `f` until it holds; the time taken, at most 1 s.
async fn within_a_second<F: AsyncFnMut() -> bool>(what: &str, mut f: F) -> Duration {
    let start = Instant::now();
    loop {
        if f().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(1), "{what}: not seen within 1 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_and_key_changes_are_seen_by_every_node_at_once() {
    let c = Cluster::start(2);
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let api = a.create_client(&["--introspection"]);
    let app = a.create_client(&[]);
    // Both nodes cache the client.
    for n in [a, b] {
        access_token(n, &app.0, &app.1).await;
    }

    // A new secret: the old one stops working on both nodes.
    let out = c.cli(&["client", "rotate-secret", &app.0, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let new_secret =
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["client_secret"].as_str().unwrap().to_string();
    for n in [a, b] {
        within_a_second("old secret refused", async || token(n, &app.0, &app.1, &[]).await.0 == 401).await;
        assert_eq!(token(n, &app.0, &new_secret, &[]).await.0, 200);
    }

    // A key rotation that signs at once: both nodes publish it and accept
    // each other's tokens signed with it.
    let out = c.cli(&["key", "rotate", "--activate-in", "0s", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let kids: Vec<String> = serde_json::from_slice::<Value>(&out.stdout).unwrap()["kids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    for n in [a, b] {
        within_a_second("new key published", async || {
            let jwks: Value = http().get(n.url("/oauth2/jwks")).send().await.unwrap().json().await.unwrap();
            let published: Vec<&str> =
                jwks["keys"].as_array().unwrap().iter().filter_map(|k| k["kid"].as_str()).collect();
            kids.iter().all(|k| published.contains(&k.as_str()))
        })
        .await;
    }
    for (here, there) in [(a, b), (b, a)] {
        let tok = access_token(here, &app.0, &new_secret).await;
        let kid = jsonwebtoken::decode_header(&tok).unwrap().kid.unwrap();
        assert!(kids.contains(&kid), "signed with the new key {kids:?}, not {kid}");
        assert_eq!(introspect(there, &api.0, &api.1, &tok).await["active"], true);
    }

    // Deleted through the CLI: refused on both nodes, its tokens inactive.
    let tok = access_token(b, &app.0, &new_secret).await;
    let out = c.cli(&["client", "delete", &app.0]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for n in [a, b] {
        within_a_second("deleted client refused", async || token(n, &app.0, &new_secret, &[]).await.0 == 401).await;
        assert_eq!(introspect(n, &api.0, &api.1, &tok).await["active"], false);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_one_node_loses_nothing_it_acknowledged() {
    let mut c = Cluster::start(2);
    let api = c.nodes[0].create_client(&["--introspection"]);
    let app = c.nodes[0].create_client(&["--token-format", "opaque"]);
    let url = c.nodes[0].url("/oauth2/token");
    let revoke_url = c.nodes[0].url("/oauth2/revoke");
    // Four workers issue opaque tokens on node A and revoke every third one,
    // until A dies under them.
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (url, revoke_url, app) = (url.clone(), revoke_url.clone(), app.clone());
            tokio::spawn(async move {
                let (mut issued, mut revoked) = (Vec::new(), Vec::new());
                let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
                for i in 0.. {
                    let r = client
                        .post(&url)
                        .basic_auth(&app.0, Some(&app.1))
                        .form(&[("grant_type", "client_credentials")])
                        .send()
                        .await;
                    let Ok(r) = r else { break };
                    if r.status() != 200 {
                        break;
                    }
                    let Ok(v) = r.json::<Value>().await else { break };
                    let tok = v["access_token"].as_str().unwrap().to_string();
                    if i % 3 == 0 {
                        let r = client
                            .post(&revoke_url)
                            .basic_auth(&app.0, Some(&app.1))
                            .form(&[("token", tok.as_str())])
                            .send()
                            .await;
                        match r {
                            Ok(r) if r.status() == 200 => revoked.push(tok),
                            // Unacknowledged: it may or may not have happened.
                            _ => break,
                        }
                    } else {
                        issued.push(tok);
                    }
                }
                (issued, revoked)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    c.nodes[0].kill9();
    let (mut issued, mut revoked) = (Vec::new(), Vec::new());
    for w in workers {
        let (i, r) = w.await.unwrap();
        issued.extend(i);
        revoked.extend(r);
    }
    assert!(issued.len() > 50 && revoked.len() > 20, "load ran: {} issued, {} revoked", issued.len(), revoked.len());
    let b = &c.nodes[1];
    for tok in &issued {
        assert_eq!(introspect(b, &api.0, &api.1, tok).await["active"], true, "acknowledged token lost");
    }
    for tok in &revoked {
        assert_eq!(introspect(b, &api.0, &api.1, tok).await["active"], false, "acknowledged revocation lost");
    }
    // The killed node comes back and agrees.
    c.nodes[0].spawn();
    for tok in issued.iter().take(20) {
        assert_eq!(introspect(&c.nodes[0], &api.0, &api.1, tok).await["active"], true);
    }
    for tok in revoked.iter().take(20) {
        assert_eq!(introspect(&c.nodes[0], &api.0, &api.1, tok).await["active"], false);
    }
    eprintln!("kill -9 under load: {} acknowledged tokens and {} revocations all kept", issued.len(), revoked.len());
}

#[test]
fn migrate_no_migrate_and_bad_database_urls() {
    let db = common::pg::PgDb::create();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], url: &str| {
        std::process::Command::new(BIN)
            .args(args)
            .env("TESSERA_DATA_DIR", dir.path())
            .env("TESSERA_DATABASE_URL", url)
            .env_remove("TESSERA_ISSUER")
            .output()
            .unwrap()
    };
    let one_line_error = |out: &std::process::Output, needle: &str| {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
        assert!(!err.contains("hunter2"), "the password leaked: {err}");
    };
    // A node that must not migrate refuses an empty schema, and says what to do.
    let port = free_port().to_string();
    let out = run(&["serve", "--no-migrate", "--listen", &format!("127.0.0.1:{port}")], &db.url);
    one_line_error(&out, "run `tessera migrate` first");
    let out = run(&["migrate"], &db.url);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(run(&["migrate"], &db.url).status.code(), Some(0), "migrating twice is a no-op");
    let out = run(&["client", "list", "--json"], &db.url);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let applied = common::pg::psql_at(
        &db.url,
        "SELECT string_agg(version::text, ',' ORDER BY version) FROM _sqlx_migrations WHERE success",
    );
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tessera-store/migrations/sqlite");
    let mut sqlite: Vec<u32> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().split('_').next().unwrap().parse().unwrap())
        .collect();
    sqlite.sort_unstable();
    let sqlite: Vec<String> = sqlite.iter().map(u32::to_string).collect();
    assert_eq!(applied, sqlite.join(","), "the same numbers as the SQLite migrations");

    // Bad URLs and unreachable servers: one line, no password, exit 1.
    one_line_error(&run(&["client", "list"], "mysql://u:hunter2@db/x"), "is not postgres://");
    one_line_error(&run(&["client", "list"], "sqlite://"), "names no file");
    let closed = free_port();
    one_line_error(
        &run(&["client", "list"], &format!("postgres://u:hunter2@127.0.0.1:{closed}/tessera")),
        "cannot open database postgres://u:REDACTED@127.0.0.1",
    );
}
