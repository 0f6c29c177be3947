//! The client credentials token source against a stub server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use base64ct::{Base64, Encoding};
use support::{ManualClock, Reply, Stub, TOKEN_PATH, fast_retry};
use tessera_client::{ClientAuth, Error, ErrorCode, RefreshMargin, TokenSource, TokenSourceBuilder};

fn cc(stub: &Stub) -> TokenSourceBuilder {
    TokenSource::client_credentials(&stub.base, ClientAuth::basic("svc", "s3cret")).retry(fast_retry(3))
}

#[tokio::test]
async fn discovers_the_token_endpoint_once() {
    let stub = Stub::start().await;
    let source = cc(&stub).build().unwrap();

    assert_eq!(source.token_endpoint().await.unwrap().as_str(), stub.url(TOKEN_PATH));
    let t = source.token().await.unwrap();
    assert_eq!(t.secret(), "at-1");
    source.invalidate();
    assert_eq!(source.token().await.unwrap().secret(), "at-2");

    assert_eq!(stub.metadata_hits(), 1, "metadata is fetched once per source");
    assert_eq!(stub.token_hits(), 2);

    let meta = tessera_client::discover(&reqwest::Client::new(), &stub.base).await.unwrap();
    assert_eq!(meta.issuer, stub.base);
    assert_eq!(meta.jwks_uri, stub.url("/jwks"));
}

#[tokio::test]
async fn rejects_metadata_for_another_issuer() {
    let stub = Stub::start().await;
    *stub.state.issuer_override.lock().unwrap() = Some("https://evil.example".into());
    let err = cc(&stub).build().unwrap().token().await.unwrap_err();
    assert!(matches!(err, Error::Discovery(ref m) if m.contains("evil.example")), "{err:?}");
    assert_eq!(stub.token_hits(), 0, "no credentials sent to an unverified endpoint");
}

#[tokio::test]
async fn configured_endpoint_skips_discovery() {
    let stub = Stub::start().await;
    let source = cc(&stub).token_endpoint(stub.url(TOKEN_PATH)).build().unwrap();
    source.token().await.unwrap();
    assert_eq!((stub.metadata_hits(), stub.token_hits()), (0, 1));
}

#[tokio::test]
async fn caches_the_token() {
    let stub = Stub::start().await;
    let source = cc(&stub).build().unwrap();
    let a = source.token().await.unwrap();
    let b = source.clone().token().await.unwrap();
    assert_eq!(a.secret(), b.secret());
    assert_eq!(stub.token_hits(), 1);
}

#[tokio::test]
async fn refreshes_before_expiry() {
    let stub = Stub::start().await;
    stub.set_expires_in(100); // margin: max(30 s, 10 s), at most 50 s → 30 s
    let clock = ManualClock::new();
    let source = cc(&stub).clock(clock.clone()).build().unwrap();

    let first = source.token().await.unwrap();
    assert_eq!(first.expires_at() - first.issued_at(), Duration::from_secs(100));
    clock.advance(Duration::from_secs(69));
    assert_eq!(source.token().await.unwrap().secret(), "at-1");
    assert_eq!(stub.token_hits(), 1);

    clock.advance(Duration::from_secs(2)); // 71 s: 29 s left, inside the margin
    assert_eq!(source.token().await.unwrap().secret(), "at-2");
    assert_eq!(stub.token_hits(), 2);
}

#[tokio::test]
async fn refresh_margin_is_configurable() {
    let stub = Stub::start().await;
    stub.set_expires_in(100);
    let clock = ManualClock::new();
    let margin = RefreshMargin { min: Duration::from_secs(5), percent: 0 };
    let source = cc(&stub).clock(clock.clone()).refresh_margin(margin).build().unwrap();
    source.token().await.unwrap();
    clock.advance(Duration::from_secs(94));
    source.token().await.unwrap();
    assert_eq!(stub.token_hits(), 1);
    clock.advance(Duration::from_secs(2));
    source.token().await.unwrap();
    assert_eq!(stub.token_hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_callers_cause_one_request() {
    let stub = Stub::start().await;
    stub.set_delay(Duration::from_millis(100)); // keep the flight open while callers pile up
    let source = cc(&stub).token_endpoint(stub.url(TOKEN_PATH)).build().unwrap();

    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let s = source.clone();
            tokio::spawn(async move { s.token().await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().secret(), "at-1");
    }
    assert_eq!(stub.token_hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_a_failure_too() {
    let stub = Stub::start().await;
    stub.set_delay(Duration::from_millis(100));
    stub.script([Reply::oauth_error(401, "invalid_client", "bad secret")]);
    let source = cc(&stub).token_endpoint(stub.url(TOKEN_PATH)).build().unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = source.clone();
            tokio::spawn(async move { s.token().await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap_err().oauth_code(), Some(ErrorCode::InvalidClient));
    }
    assert_eq!(stub.token_hits(), 1);
}

#[tokio::test]
async fn retries_transient_failures_then_succeeds() {
    let stub = Stub::start().await;
    stub.script([
        Reply::oauth_error(503, "temporarily_unavailable", "busy"),
        Reply::plain(502, "<html>bad gateway</html>"),
        Reply { retry_after: Some(0), ..Reply::plain(429, "") },
    ]);
    let source = cc(&stub).retry(fast_retry(4)).build().unwrap();
    assert_eq!(source.token().await.unwrap().secret(), "at-1");
    assert_eq!(stub.token_hits(), 4);
}

#[tokio::test]
async fn retries_are_bounded() {
    let stub = Stub::start().await;
    stub.script(std::iter::repeat_n(Reply::oauth_error(400, "slow_down", "easy"), 10));
    let source = cc(&stub).retry(fast_retry(3)).build().unwrap();
    let err = source.token().await.unwrap_err();
    assert_eq!(err.oauth_code(), Some(ErrorCode::SlowDown));
    assert!(err.is_transient());
    assert_eq!(stub.token_hits(), 3);
}

#[tokio::test]
async fn connection_errors_are_retried() {
    // A port that was just free: connections are refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let issuer = format!("http://127.0.0.1:{port}");
    let source = TokenSource::client_credentials(&issuer, ClientAuth::basic("svc", "x"))
        .token_endpoint(format!("{issuer}/token"))
        .retry(fast_retry(2))
        .build()
        .unwrap();
    let err = source.token().await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)) && err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn oauth_errors_are_typed_and_not_retried() {
    for (status, code, expected) in [
        (401, "invalid_client", ErrorCode::InvalidClient),
        (400, "invalid_scope", ErrorCode::InvalidScope),
        (400, "unauthorized_client", ErrorCode::UnauthorizedClient),
        (400, "unsupported_grant_type", ErrorCode::UnsupportedGrantType),
        (400, "invalid_target", ErrorCode::InvalidTarget),
    ] {
        let stub = Stub::start().await;
        stub.script([Reply::oauth_error(status, code, "nope")]);
        let source = cc(&stub).retry(fast_retry(5)).build().unwrap();
        match source.token().await {
            Err(Error::Rejected { status: s, code: c, description }) => {
                assert_eq!((s.as_u16(), c), (status, expected));
                assert_eq!(description.as_deref(), Some("nope"));
            }
            other => panic!("{code}: {other:?}"),
        }
        assert_eq!(stub.token_hits(), 1, "{code} must not be retried");
    }
}

#[tokio::test]
async fn malformed_and_non_bearer_responses_are_errors() {
    let stub = Stub::start().await;
    stub.script([
        Reply::token_json(serde_json::json!({"access_token": "x", "token_type": "DPoP", "expires_in": 60})),
        Reply::token_json(serde_json::json!({"token_type": "Bearer"})),
    ]);
    let source = cc(&stub).build().unwrap();
    assert!(matches!(source.token().await, Err(Error::InvalidResponse(m)) if m.contains("DPoP")));
    assert!(matches!(source.token().await, Err(Error::InvalidResponse(_))));
    assert_eq!(stub.token_hits(), 2);
}

#[tokio::test]
async fn serves_the_cached_token_when_refresh_fails_transiently() {
    let stub = Stub::start().await;
    stub.set_expires_in(100);
    let clock = ManualClock::new();
    let source = cc(&stub).clock(clock.clone()).retry(fast_retry(2)).build().unwrap();
    source.token().await.unwrap();
    clock.advance(Duration::from_secs(80)); // due, not expired
    stub.script([Reply::plain(503, ""), Reply::plain(503, "")]);
    assert_eq!(source.token().await.unwrap().secret(), "at-1");
    assert_eq!(stub.token_hits(), 3);
    // Within the quiet period no new attempt is made.
    assert_eq!(source.token().await.unwrap().secret(), "at-1");
    assert_eq!(stub.token_hits(), 3);
    clock.advance(Duration::from_secs(21)); // expired: a fetch is a must
    assert_eq!(source.token().await.unwrap().secret(), "at-2");
}

#[tokio::test]
async fn basic_auth_urlencodes_id_and_secret() {
    let stub = Stub::start().await;
    let (id, secret) = ("svc:büro 1", "p@ss:w/rd+&=%");
    let source = TokenSource::client_credentials(&stub.base, ClientAuth::basic(id, secret)).build().unwrap();
    source.token().await.unwrap();

    let header = stub.seen()[0].authorization.clone().unwrap();
    let decoded = String::from_utf8(Base64::decode_vec(header.strip_prefix("Basic ").unwrap()).unwrap()).unwrap();
    assert_eq!(decoded, "svc%3Ab%C3%BCro+1:p%40ss%3Aw%2Frd%2B%26%3D%25");
    // And it decodes back the way the server does (RFC 6749 §2.3.1).
    let (i, s) = decoded.split_once(':').unwrap();
    let back = |v: &str| form_urlencoded::parse(format!("v={v}").as_bytes()).next().unwrap().1.into_owned();
    assert_eq!((back(i).as_str(), back(s).as_str()), (id, secret));
    assert_eq!(stub.seen()[0].param("client_secret"), None);
}

#[tokio::test]
async fn client_secret_post_sends_credentials_in_the_body() {
    let stub = Stub::start().await;
    let source = TokenSource::client_credentials(&stub.base, ClientAuth::post("svc", "s3cret")).build().unwrap();
    source.token().await.unwrap();
    let seen = &stub.seen()[0];
    assert_eq!(seen.authorization, None);
    assert_eq!((seen.param("client_id"), seen.param("client_secret")), (Some("svc"), Some("s3cret")));
}

#[tokio::test]
async fn sends_grant_scope_and_resources() {
    let stub = Stub::start().await;
    let source = cc(&stub)
        .scope("read")
        .scopes(["write"])
        .resource("https://api.example/a")
        .resource("https://api.example/b")
        .build()
        .unwrap();
    let t = source.token().await.unwrap();
    let seen = &stub.seen()[0];
    assert_eq!(seen.param("grant_type"), Some("client_credentials"));
    assert_eq!(seen.param("scope"), Some("read write"));
    assert_eq!(seen.params("resource"), ["https://api.example/a", "https://api.example/b"]);
    assert_eq!(t.scope(), Some("read write"));
}

#[tokio::test]
async fn invalidate_token_only_drops_that_token() {
    let stub = Stub::start().await;
    let source = cc(&stub).build().unwrap();
    let old = source.token().await.unwrap();
    source.invalidate_token(&old);
    let new = source.token().await.unwrap();
    assert_eq!(new.secret(), "at-2");
    source.invalidate_token(&old); // stale: no effect
    assert_eq!(source.token().await.unwrap().secret(), "at-2");
    assert_eq!(stub.token_hits(), 2);
}

#[test]
fn bad_configurations_fail_at_build() {
    let cases: Vec<(&str, TokenSourceBuilder)> = vec![
        ("public client", TokenSource::client_credentials("https://as.example", ClientAuth::public("spa"))),
        ("plain http", TokenSource::client_credentials("http://as.example", ClientAuth::basic("a", "b"))),
        ("not a url", TokenSource::client_credentials("as.example", ClientAuth::basic("a", "b"))),
        ("bad scope", TokenSource::client_credentials("https://as.example", ClientAuth::basic("a", "b")).scope("a b")),
        (
            "bad resource",
            TokenSource::client_credentials("https://as.example", ClientAuth::basic("a", "b")).resource("/relative"),
        ),
        (
            "http endpoint",
            TokenSource::client_credentials("https://as.example", ClientAuth::basic("a", "b"))
                .token_endpoint("http://as.example/token"),
        ),
    ];
    for (name, builder) in cases {
        assert!(matches!(builder.build(), Err(Error::Config(_))), "{name}");
    }
    let ok =
        TokenSource::client_credentials("http://as.internal", ClientAuth::basic("a", "b")).allow_insecure_http(true);
    assert!(ok.build().is_ok());
}

#[tokio::test]
async fn debug_output_holds_no_secret() {
    let stub = Stub::start().await;
    let builder = TokenSource::client_credentials(&stub.base, ClientAuth::basic("svc", "client-secret-XYZ"));
    let builder_dbg = format!("{builder:?}");
    let source = builder.build().unwrap();
    let token = source.token().await.unwrap();
    let api = tessera_client::AuthorizedClient::new(reqwest::Client::new(), source.clone());
    let all = format!("{builder_dbg} {source:?} {token:?} {api:?} {:?}", api.get(stub.url("/api/items")));
    assert!(!all.contains("client-secret-XYZ") && !all.contains("at-1"), "{all}");
    assert!(all.contains("svc") && all.contains("[redacted]"), "{all}");
}
