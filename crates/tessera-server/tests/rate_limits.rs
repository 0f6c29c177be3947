//! Per-node rate limits over real HTTP: each limit trips with 429,
//! `Retry-After` and an RFC 6749 body (an error page in the browser), and
//! recovers; and the client address behind a trusted proxy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::signin::{Browser, PASSWORD};
use common::*;
use serde_json::Value;

struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: String,
}

impl Answer {
    async fn of(r: reqwest::Response) -> Self {
        let status = r.status().as_u16();
        let retry_after = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        Self { status, retry_after, body: r.text().await.unwrap_or_default() }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// 429, a `Retry-After` in whole seconds, and the RFC 6749 §5.2 body.
    fn assert_limited_json(&self) -> u64 {
        assert_eq!(self.status, 429, "{}", self.body);
        assert_eq!(self.json()["error"], "temporarily_unavailable", "{}", self.body);
        let secs = self.retry_after.expect("Retry-After");
        assert!((1..=60).contains(&secs), "Retry-After {secs}");
        secs
    }
}

async fn token_as(s: &Server, id: &str, secret: &str, forwarded_for: Option<&str>) -> Answer {
    let mut r =
        http().post(s.url("/oauth2/token")).basic_auth(id, Some(secret)).form(&[("grant_type", "client_credentials")]);
    if let Some(f) = forwarded_for {
        r = r.header("x-forwarded-for", f);
    }
    Answer::of(r.send().await.unwrap()).await
}

async fn wait_out(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs) + Duration::from_millis(200)).await;
}

#[tokio::test]
async fn failed_client_authentication_is_limited_per_client_id() {
    let s = Server::start_with(&[
        ("TESSERA_RATE_LIMIT_AUTH_FAILURES", "6/m"),
        ("TESSERA_RATE_LIMIT_AUTH_FAILURES_PER_ADDRESS", "off"),
    ]);
    let (id, secret) = s.create_client(&[]);
    let (other, other_secret) = s.create_client(&[]);
    // Successes are never counted.
    for _ in 0..10 {
        assert_eq!(token_as(&s, &id, &secret, None).await.status, 200);
    }
    for _ in 0..7 {
        assert_eq!(token_as(&s, &id, "wrong", None).await.status, 401);
    }
    // Over budget: refused before the secret is even looked at, right or wrong.
    let wait = token_as(&s, &id, &secret, None).await.assert_limited_json();
    let r = http().post(s.url("/oauth2/introspect")).basic_auth(&id, Some(&secret)).form(&[("token", "x")]);
    Answer::of(r.send().await.unwrap()).await.assert_limited_json();
    // Another client is not affected.
    assert_eq!(token_as(&s, &other, &other_secret, None).await.status, 200);
    wait_out(wait).await;
    assert_eq!(token_as(&s, &id, &secret, None).await.status, 200, "recovers");
}

#[tokio::test]
async fn failed_client_authentication_is_limited_per_forwarded_address() {
    let s = Server::start_with(&[
        ("TESSERA_RATE_LIMIT_AUTH_FAILURES", "off"),
        ("TESSERA_RATE_LIMIT_AUTH_FAILURES_PER_ADDRESS", "6/m"),
        ("TESSERA_TRUSTED_PROXIES", "127.0.0.1/32,10.0.0.0/8"),
    ]);
    let (id, secret) = s.create_client(&[]);
    let attacker = Some("198.51.100.66");
    for _ in 0..7 {
        // A spoofed leftmost hop changes nothing: the proxy's hop is believed.
        let f = format!("203.0.113.{}, 198.51.100.66", rand_octet());
        assert_eq!(token_as(&s, "guess", "wrong", Some(&f)).await.status, 401);
    }
    let wait = token_as(&s, &id, &secret, attacker).await.assert_limited_json();
    // The good client behind the same proxy is not slowed.
    assert_eq!(token_as(&s, &id, &secret, Some("198.51.100.7")).await.status, 200);
    wait_out(wait).await;
    assert_eq!(token_as(&s, &id, &secret, attacker).await.status, 200, "recovers");
}

fn rand_octet() -> u8 {
    (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() % 250) as u8
}

#[tokio::test]
async fn unauthenticated_endpoints_are_limited_per_address() {
    let s =
        Server::start_with(&[("TESSERA_RATE_LIMIT_UNAUTHENTICATED", "10/m"), ("TESSERA_TRUSTED_PROXIES", "127.0.0.1")]);
    let b = Browser::new(&s);
    let (jar, url) = (&b.http, |p: &str| s.url(p));
    let from = move |ip: &'static str| move |path: &str| jar.get(url(path)).header("x-forwarded-for", ip).send();
    let (client, neighbour) = (from("198.51.100.1"), from("198.51.100.2"));
    for _ in 0..10 {
        assert_eq!(client("/login").await.unwrap().status(), 200);
    }
    // Loopback itself (the proxy, health checks) is never limited per address.
    for _ in 0..20 {
        assert_eq!(b.get("/login").await.status, 200);
    }
    // The browser gets a page.
    let page = Browser::seen_from(client("/login").await.unwrap()).await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(page.headers.get("content-type").unwrap().to_str().unwrap().starts_with("text/html"));
    assert!(page.body.contains("Try again in"), "{}", page.body);
    let wait: u64 = page.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=6).contains(&wait), "{wait}");
    assert_eq!(client("/oauth2/authorize?client_id=x").await.unwrap().status(), 429);
    assert_eq!(neighbour("/login").await.unwrap().status(), 200, "per address");
    // The device's endpoint gets JSON.
    let r = http()
        .post(s.url("/oauth2/device_authorization"))
        .header("x-forwarded-for", "198.51.100.1")
        .form(&[("client_id", "tv")])
        .send()
        .await
        .unwrap();
    Answer::of(r).await.assert_limited_json();
    wait_out(wait).await;
    assert_eq!(client("/login").await.unwrap().status(), 200, "recovers");
}

#[tokio::test]
async fn introspection_is_limited_per_client() {
    let s = Server::start_with(&[("TESSERA_RATE_LIMIT_INTROSPECTION", "10/m")]);
    let (api, api_secret) = s.create_client(&["--introspection"]);
    let (api2, api2_secret) = s.create_client(&["--introspection"]);
    let tok = access_token(&s, &api, &api_secret).await;
    let call = |id: String, secret: String| {
        let (url, tok) = (s.url("/oauth2/introspect"), tok.clone());
        async move {
            Answer::of(http().post(url).basic_auth(id, Some(secret)).form(&[("token", tok)]).send().await.unwrap())
                .await
        }
    };
    for _ in 0..10 {
        let a = call(api.clone(), api_secret.clone()).await;
        assert_eq!((a.status, a.json()["active"].as_bool()), (200, Some(true)), "{}", a.body);
    }
    let wait = call(api.clone(), api_secret.clone()).await.assert_limited_json();
    assert_eq!(call(api2.clone(), api2_secret.clone()).await.status, 200, "per client");
    wait_out(wait).await;
    assert_eq!(call(api, api_secret).await.status, 200, "recovers");
}

#[tokio::test]
async fn a_client_can_have_its_own_issuance_limit() {
    let s = Server::start();
    let (id, secret) = s.create_client(&["--rate-limit", "6/m"]);
    let shown = s.cli(&["client", "show", &id, "--json"]);
    let v: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(v["rate_limit"], "6/m");
    // Wrong secrets do not use up the client's budget.
    for _ in 0..5 {
        assert_eq!(token_as(&s, &id, "wrong", None).await.status, 401);
    }
    for _ in 0..6 {
        assert_eq!(token_as(&s, &id, &secret, None).await.status, 200);
    }
    let wait = token_as(&s, &id, &secret, None).await.assert_limited_json();
    wait_out(wait).await;
    assert_eq!(token_as(&s, &id, &secret, None).await.status, 200, "recovers");
    // Lifted at once by `client update`, on the running server.
    let out = s.cli(&["client", "update", &id, "--rate-limit", "off"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for _ in 0..20 {
        assert_eq!(token_as(&s, &id, &secret, None).await.status, 200);
    }
    let out = s.cli(&["client", "update", &id, "--rate-limit", "lots"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: --rate-limit"));
    let out = s.cli(&["client", "update", "nope", "--rate-limit", "1/s"]);
    assert!(!out.status.success());
}

/// Fails sign-ins as `forwarded_for` until the address is throttled.
async fn fail_sign_ins_until_throttled(s: &Server, forwarded_for: &dyn Fn(usize) -> String) {
    let b = Browser::new(s);
    let page = b.get("/login").await;
    let csrf = page.field("csrf").unwrap();
    for i in 0..30 {
        let user = format!("nobody{i}");
        let r = b
            .http
            .post(s.url("/login"))
            .header("x-forwarded-for", forwarded_for(i))
            .form(&[("csrf", csrf.as_str()), ("username", user.as_str()), ("password", "wrong wrong wrong")])
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            return;
        }
    }
    panic!("sign-in was never throttled");
}

async fn sign_in_as_alice(s: &Server, forwarded_for: &str) -> u16 {
    let b = Browser::new(s);
    let page = b.get("/login").await;
    let csrf = page.field("csrf").unwrap();
    let r = b
        .http
        .post(s.url("/login"))
        .header("x-forwarded-for", forwarded_for)
        .form(&[("csrf", csrf.as_str()), ("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

#[tokio::test]
async fn behind_a_trusted_proxy_one_client_does_not_lock_out_another() {
    let s = Server::start_with(&[("TESSERA_TRUSTED_PROXIES", "127.0.0.1")]);
    s.create_user("alice", PASSWORD);
    fail_sign_ins_until_throttled(&s, &|_| "198.51.100.1".into()).await;
    assert_eq!(sign_in_as_alice(&s, "198.51.100.2").await, 200, "another client of the same proxy");
    // The throttled client's own spoofed leftmost hop does not help it.
    assert_eq!(sign_in_as_alice(&s, "198.51.100.2, 198.51.100.1").await, 429);
}

#[tokio::test]
async fn without_a_trusted_proxy_forwarding_headers_cannot_spoof() {
    let s = Server::start();
    s.create_user("alice", PASSWORD);
    fail_sign_ins_until_throttled(&s, &|i| format!("198.51.100.{i}")).await;
    assert_eq!(sign_in_as_alice(&s, "198.51.100.200").await, 429, "the peer address is throttled");
    // An operator who forgot --trusted-proxy is told, once.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(s.logs().matches("no --trusted-proxy is set").count(), 1, "{}", s.logs());
}
