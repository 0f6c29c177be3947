//! Guard benchmark, run by `ONLY=guard bench/run.sh` against a live server:
//! validations per second on ONE thread (pin the process to one core) with
//! the verified-token cache and without it, and the delay from a revocation's
//! 200 to the first refused request.
//!
//! Usage: guard_bench ISSUER AUDIENCE API_ID API_SECRET APP_ID APP_SECRET
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use tessera_guard::{Guard, Invalid, Rejection};

const TOKENS: usize = 30_000;
const CACHED_ROUNDS: usize = 3_000_000;
const REVOCATIONS: usize = 200;

async fn new_token(http: &reqwest::Client, issuer: &str, id: &str, secret: &str) -> String {
    let r = http
        .post(format!("{issuer}/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap_or_else(|| panic!("no token: {v}")).to_string()
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(run());
}

async fn run() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let [issuer, audience, api_id, api_secret, app_id, app_secret] = &a[..] else {
        panic!("usage: guard_bench ISSUER AUDIENCE API_ID API_SECRET APP_ID APP_SECRET");
    };
    let http = reqwest::Client::new();
    let guard = Guard::builder(issuer, audience)
        .client_credentials(api_id, api_secret)
        .cache_capacity(100_000)
        .build()
        .await
        .unwrap();

    let mut tokens = Vec::with_capacity(TOKENS);
    let saved = std::env::var("TOKENS_FILE").ok();
    if let Some(text) = saved.as_ref().and_then(|f| std::fs::read_to_string(f).ok()) {
        tokens.extend(text.lines().map(String::from));
    }
    while tokens.len() < TOKENS {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..64 {
            let (http, issuer, id, secret) = (http.clone(), issuer.clone(), app_id.clone(), app_secret.clone());
            set.spawn(async move { new_token(&http, &issuer, &id, &secret).await });
        }
        tokens.extend(set.join_all().await);
    }
    tokens.truncate(TOKENS);
    if let Some(f) = &saved {
        std::fs::write(f, tokens.join("\n")).unwrap();
    }

    // Uncached: every token seen for the first time (signature + claims + cache insert).
    let start = Instant::now();
    for t in &tokens {
        guard.validate(t).await.unwrap();
    }
    let uncached = TOKENS as f64 / start.elapsed().as_secs_f64();
    if std::env::var_os("UNCACHED_ONLY").is_some() {
        println!("{{\"uncached_per_sec\":{uncached:.0}}}");
        return;
    }

    // Cached, one hot token.
    let hot = &tokens[0];
    let start = Instant::now();
    for _ in 0..CACHED_ROUNDS {
        guard.validate(hot).await.unwrap();
    }
    let cached_hot = CACHED_ROUNDS as f64 / start.elapsed().as_secs_f64();

    // Cached, round-robin over all 30k tokens (CPU caches cold-ish).
    let start = Instant::now();
    for i in 0..CACHED_ROUNDS {
        guard.validate(&tokens[i % TOKENS]).await.unwrap();
    }
    let cached_many = CACHED_ROUNDS as f64 / start.elapsed().as_secs_f64();

    // Revocation delay: revoke's 200 → first refused request.
    let mut delays = Vec::with_capacity(REVOCATIONS);
    for _ in 0..REVOCATIONS {
        let t = new_token(&http, issuer, app_id, app_secret).await;
        guard.validate(&t).await.unwrap();
        let r = http
            .post(format!("{issuer}/oauth2/revoke"))
            .basic_auth(app_id, Some(app_secret))
            .form(&[("token", t.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let since = Instant::now();
        loop {
            match guard.validate(&t).await {
                Err(Rejection::Invalid(Invalid::Revoked)) => break,
                Err(e) => panic!("refused for the wrong reason: {e:?}"),
                Ok(_) if since.elapsed() > Duration::from_secs(5) => panic!("not refused after 5 s"),
                Ok(_) => tokio::time::sleep(Duration::from_micros(200)).await,
            }
        }
        delays.push(since.elapsed());
    }
    delays.sort();
    let pct = |p: usize| delays[(delays.len() * p).div_ceil(100).saturating_sub(1)].as_secs_f64() * 1e3;
    println!(
        "{{\"uncached_per_sec\":{uncached:.0},\"cached_hot_per_sec\":{cached_hot:.0},\"cached_30k_per_sec\":{cached_many:.0},\
         \"revocation_p50_ms\":{:.2},\"revocation_p99_ms\":{:.2},\"revocation_max_ms\":{:.2},\"revocations\":{REVOCATIONS}}}",
        pct(50),
        pct(99),
        delays[delays.len() - 1].as_secs_f64() * 1e3
    );
}
