//! Nothing acknowledged is lost: tokens issued and revocations answered with
//! 200 while the server is under concurrent load all survive `kill -9`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use tokio::sync::Mutex;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_tokens_and_revocations_survive_kill_9() {
    let mut s = Server::start();
    let (id, secret) = s.create_client(&["--token-format", "opaque"]);
    let (jid, jsecret) = s.create_client(&[]);
    let (rs, rs_secret) = s.create_client(&["--introspection"]);
    let issued = Arc::new(Mutex::new(Vec::<String>::new()));
    let revoked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = common::http();
    let mut workers = Vec::new();
    for w in 0..16 {
        let (issued, revoked, stop, client) = (issued.clone(), revoked.clone(), stop.clone(), client.clone());
        let (url_t, url_r) = (s.url("/oauth2/token"), s.url("/oauth2/revoke"));
        let (id, secret) = if w % 4 == 0 { (jid.clone(), jsecret.clone()) } else { (id.clone(), secret.clone()) };
        workers.push(tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = client
                    .post(&url_t)
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await;
                let Ok(r) = r else { break };
                if r.status() != 200 {
                    break;
                }
                let Ok(v) = r.json::<serde_json::Value>().await else {
                    break;
                };
                let tok = v["access_token"].as_str().unwrap().to_string();
                n += 1;
                if n.is_multiple_of(3) {
                    let r = client
                        .post(&url_r)
                        .basic_auth(&id, Some(&secret))
                        .form(&[("token", tok.as_str())])
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 200 => revoked.lock().await.push(tok),
                        // No answer: the revocation may or may not have landed; the token is in doubt.
                        _ => break,
                    }
                } else {
                    issued.lock().await.push(tok);
                }
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    s.kill9(); // mid-load
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let issued = issued.lock().await.clone();
    let revoked = revoked.lock().await.clone();
    assert!(issued.len() > 100, "load too light to mean anything: {}", issued.len());
    assert!(revoked.len() > 30, "too few revocations: {}", revoked.len());
    s.spawn();
    for t in &issued {
        assert_eq!(introspect(&s, &rs, &rs_secret, t).await["active"], true, "acknowledged token lost");
    }
    for t in &revoked {
        assert_eq!(introspect(&s, &rs, &rs_secret, t).await["active"], false, "acknowledged revocation lost");
    }
    eprintln!("checked {} tokens and {} revocations after kill -9", issued.len(), revoked.len());
}
