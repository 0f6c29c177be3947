//! PostgreSQL goes away under load and comes back: `/readyz` fails on every
//! node, requests get 503 `temporarily_unavailable` (never a token that was
//! not stored), and the nodes recover by themselves.
//!
//! Its own test binary, holding one test: it stops the machine's PostgreSQL,
//! which no other test may be using at the time (cargo runs test binaries
//! one after another).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::pg::Cluster;
use common::*;
use serde_json::Value;

fn pg_ctl(action: &str) {
    let out = Command::new("sh")
        .args(["-c", &format!("pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main {action}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "pg_ctlcluster {action}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Starts PostgreSQL again however the test ends.
struct Restart;
impl Drop for Restart {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .args(["-c", "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"])
            .output();
    }
}

struct Answer {
    at: Instant,
    took: Duration,
    status: u16,
    body: Value,
}

async fn ready(s: &Server) -> u16 {
    match http().get(s.url("/readyz")).timeout(Duration::from_secs(5)).send().await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_database_goes_away_and_comes_back() {
    let c = Cluster::start(2);
    let api = c.nodes[0].create_client(&["--introspection"]);
    let opaque = c.nodes[0].create_client(&["--token-format", "opaque"]);
    let jwt = c.nodes[0].create_client(&[]);
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for (n, node) in c.nodes.iter().enumerate() {
        for app in [&opaque, &opaque, &jwt] {
            let (url, app, stop) = (node.url("/oauth2/token"), app.clone(), stop.clone());
            workers.push(tokio::spawn(async move {
                let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    let r = client
                        .post(&url)
                        .basic_auth(&app.0, Some(&app.1))
                        .form(&[("grant_type", "client_credentials")])
                        .send()
                        .await;
                    let (status, body) = match r {
                        Ok(r) => (r.status().as_u16(), r.json().await.unwrap_or(Value::Null)),
                        Err(e) => panic!("node {n}: no answer at all: {e}"),
                    };
                    seen.push(Answer { at: Instant::now(), took: sent.elapsed(), status, body });
                    if status != 200 {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                seen
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let _restart = Restart;
    pg_ctl("stop");
    let stopped = Instant::now();
    for node in &c.nodes {
        let t = Instant::now();
        while ready(node).await != 503 {
            assert!(t.elapsed() < Duration::from_secs(5), "/readyz still passing with the database down");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let restarting = Instant::now();
    pg_ctl("start");
    let started = Instant::now();
    let mut recovered = Duration::ZERO;
    for node in &c.nodes {
        while ready(node).await != 200 {
            assert!(started.elapsed() < Duration::from_secs(20), "node did not recover");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        recovered = recovered.max(started.elapsed());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut answers = Vec::new();
    for w in workers {
        answers.extend(w.await.unwrap());
    }

    // While it was down: only 503 temporarily_unavailable, for JWTs too.
    // Requests sent once the node knew (two seconds' grace: the first failed
    // reconnect marks the database down), answered before the restart.
    let outage = |a: &Answer| a.at - a.took > stopped + Duration::from_secs(2) && a.at < restarting;
    let during: Vec<&Answer> = answers.iter().filter(|a| outage(a)).collect();
    assert!(during.len() > 20, "the load ran during the outage ({} answers)", during.len());
    // Refused quickly: a load balancer can move on, and nothing piles up.
    let slowest = during.iter().map(|a| a.took).max().unwrap_or_default();
    assert!(slowest < Duration::from_millis(1_500), "a request took {slowest:?} to be refused");
    for a in &during {
        assert_eq!(a.status, 503, "answered during the outage: {}", a.body);
        assert_eq!(a.body["error"], "temporarily_unavailable", "{}", a.body);
    }
    // Every other answer was a token or that same error, and the load was
    // served again after the restart.
    for a in &answers {
        assert!(
            a.status == 200 || (a.status == 503 && a.body["error"] == "temporarily_unavailable"),
            "{} {}",
            a.status,
            a.body
        );
    }
    let after = answers.iter().filter(|a| a.at > started + recovered && a.status == 200).count();
    assert!(after > 10, "served again after recovery ({after})");
    // Every opaque token that was answered with 200 was stored.
    let tokens: Vec<String> = answers
        .iter()
        .filter(|a| a.status == 200)
        .filter_map(|a| a.body["access_token"].as_str())
        .filter(|t| t.starts_with("tsr_at_"))
        .map(String::from)
        .collect();
    let checkers: Vec<_> = tokens
        .chunks(tokens.len().div_ceil(8).max(1))
        .map(|chunk| {
            let (chunk, url, api) = (chunk.to_vec(), c.nodes[1].url("/oauth2/introspect"), api.clone());
            tokio::spawn(async move {
                for t in chunk {
                    let r = http().post(&url).basic_auth(&api.0, Some(&api.1)).form(&[("token", &t)]).send().await;
                    let v: Value = r.unwrap().json().await.unwrap();
                    assert_eq!(v["active"], true, "a token answered with 200 was not stored: {v}");
                }
            })
        })
        .collect();
    for c in checkers {
        c.await.unwrap();
    }
    eprintln!(
        "outage: {} answers during it, all 503, slowest {slowest:?}; recovered {recovered:?} after restart; \
         {} opaque tokens all stored",
        during.len(),
        tokens.len()
    );
}
