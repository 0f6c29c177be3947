//! RFC 9700 §4 attacks on the authorization code flow, each refused:
//! redirect URI manipulation (§4.1), code replay and injection (§4.5),
//! PKCE downgrade (§4.8), CSRF on our forms (§4.7), open redirection
//! (§4.11), clickjacking (§4.16), mix-up defence via `iss` (§4.4), and
//! brute-forced passwords.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::signin::*;
use common::*;

#[tokio::test]
async fn redirect_uri_variants_get_an_error_page_never_a_redirect() {
    let s = Server::start();
    let (app, _) = s.create_app(&["--redirect-uri", "http://127.0.0.1/native"]);
    let (_, challenge) = pkce(1);
    let b = Browser::new(&s);
    for bad in [
        "https://app.example.com/cb/",
        "https://APP.example.com/cb",
        "https://app.example.com/CB",
        "https://app.example.com/cb?extra=1",
        "https://app.example.com/cb#frag",
        "https://attacker@app.example.com/cb",
        "https://app.example.com@attacker.example/cb",
        "https://app.example.com/c%62",
        "https://app.example.com:8443/cb",
        "https://app.example.com.attacker.example/cb",
        "http://app.example.com/cb",
        "http://127.0.0.1:8080/other",
        "javascript:alert(1)",
    ] {
        let mut pairs = auth_pairs(&app, &challenge);
        pairs[2] = ("redirect_uri", bad);
        let r = b.authorize(&pairs).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(r.location.is_none(), "{bad} was redirected to");
        assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/html"));
        assert!(r.body.contains("redirect_uri is not registered"), "{bad}");
    }
    // Native apps: any port on the registered loopback IP (RFC 8252 §7.3).
    let mut pairs = auth_pairs(&app, &challenge);
    pairs[2] = ("redirect_uri", "http://127.0.0.1:51234/native");
    assert!(b.authorize(&pairs).await.is_login());
    // Unknown client, missing redirect URI, or a repeated parameter: a page too.
    for q in [
        query(&[("response_type", "code"), ("client_id", "nope"), ("redirect_uri", REDIRECT)]),
        query(&[("response_type", "code"), ("client_id", &app)]),
        format!("{}&state=again", query(&auth_pairs(&app, &challenge))),
    ] {
        let r = b.get(&format!("/oauth2/authorize?{q}")).await;
        assert_eq!((r.status, r.location.is_none()), (400, true), "{q}");
        assert!(r.body.contains("invalid_request"));
    }
}

#[tokio::test]
async fn later_errors_go_back_with_state_and_iss() {
    let s = Server::start();
    let (app, _) = s.create_app(&[]);
    let (_, challenge) = pkce(2);
    let b = Browser::new(&s);
    type Mutation = Box<dyn Fn(&mut Vec<(&'static str, String)>)>;
    let cases: Vec<(&str, Mutation)> = vec![
        ("invalid_request", Box::new(|p| p.retain(|(k, _)| *k != "code_challenge"))),
        ("invalid_request", Box::new(|p| p.retain(|(k, _)| *k != "code_challenge_method"))),
        ("invalid_request", Box::new(|p| p.push(("code_challenge_method_", String::new())))),
        ("unsupported_response_type", Box::new(|p| p[0].1 = "id_token".into())),
        ("invalid_scope", Box::new(|p| p[3].1 = "openid admin".into())),
        ("invalid_request", Box::new(|p| p.push(("prompt", "none login".into())))),
        ("invalid_request", Box::new(|p| p.push(("max_age", "-1".into())))),
        ("invalid_request", Box::new(|p| p.push(("request", "eyJ.x.y".into())))),
    ];
    for (i, (want, mutate)) in cases.iter().enumerate() {
        let mut pairs: Vec<(&'static str, String)> = vec![
            ("response_type", "code".into()),
            ("client_id", app.clone()),
            ("redirect_uri", REDIRECT.into()),
            ("scope", "openid".into()),
            ("state", "st-9".into()),
            ("code_challenge", challenge.clone()),
            ("code_challenge_method", "S256".into()),
        ];
        mutate(&mut pairs);
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = b.authorize(&refs).await;
        if i == 2 {
            // An unknown extra parameter is ignored (RFC 6749 §3.1): still the login page.
            assert!(r.is_login(), "case {i}");
            continue;
        }
        assert_eq!(r.status, 303, "case {i}: {}", r.body);
        assert!(r.location.as_ref().unwrap().starts_with(REDIRECT), "case {i}");
        assert_eq!(r.param("error").as_deref(), Some(*want), "case {i}");
        assert_eq!(r.param("state").as_deref(), Some("st-9"), "case {i}");
        assert_eq!(r.param("iss"), Some(s.issuer()), "case {i}");
    }
    // PKCE `plain` is refused outright.
    let mut plain = auth_pairs(&app, &challenge);
    plain[7] = ("code_challenge_method", "plain");
    assert_eq!(b.authorize(&plain).await.param("error").as_deref(), Some("invalid_request"));
}

async fn new_code(b: &Browser, app: &str, challenge: &str) -> String {
    b.sign_in(&auth_pairs(app, challenge), "alice").await.param("code").unwrap()
}

#[tokio::test]
async fn codes_are_single_use_and_bound_to_client_redirect_and_verifier() {
    let s = Server::start();
    s.create_user("alice", PASSWORD);
    let (app, secret) = s.create_app(&[]);
    let (other, other_secret) = s.create_app(&[]);
    let (rs, rs_secret) = s.create_client(&["--introspection"]);
    let b = Browser::new(&s);
    let (verifier, challenge) = pkce(3);

    // Another client cannot redeem it, and its attempt does not burn the code.
    let c = new_code(&b, &app, &challenge).await;
    assert_eq!(redeem(&s, &other, Some(&other_secret), &c, &verifier, REDIRECT).await.1["error"], "invalid_grant");
    let (st, tok) = redeem(&s, &app, Some(&secret), &c, &verifier, REDIRECT).await;
    assert_eq!(st, 200, "{tok}");
    let at = tok["access_token"].as_str().unwrap().to_string();
    assert_eq!(introspect(&s, &rs, &rs_secret, &at).await["active"], true);

    // Replay: refused, and the tokens from the first redemption are revoked.
    let (st, e) = redeem(&s, &app, Some(&secret), &c, &verifier, REDIRECT).await;
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_grant")));
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(introspect(&s, &rs, &rs_secret, &at).await["active"], false, "replay revokes the tokens");

    // Wrong redirect URI, wrong verifier, missing verifier.
    let c = new_code(&b, &app, &challenge).await;
    assert_eq!(
        redeem(&s, &app, Some(&secret), &c, &verifier, "https://app.example.com/other").await.1["error"],
        "invalid_grant"
    );
    let c = new_code(&b, &app, &challenge).await;
    let (wrong, _) = pkce(9);
    assert_eq!(redeem(&s, &app, Some(&secret), &c, &wrong, REDIRECT).await.1["error"], "invalid_grant");
    let c = new_code(&b, &app, &challenge).await;
    let r = http()
        .post(s.url("/oauth2/token"))
        .basic_auth(&app, Some(&secret))
        .form(&[("grant_type", "authorization_code"), ("code", c.as_str()), ("redirect_uri", REDIRECT)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_request", "PKCE downgrade refused");
    // Garbage and unknown codes.
    for bad in ["tsr_ac_nope", "x", &"tsr_ac_".repeat(40)] {
        assert_eq!(redeem(&s, &app, Some(&secret), bad, &verifier, REDIRECT).await.1["error"], "invalid_grant");
    }
    // The client must authenticate: a confidential client's id alone is not enough.
    let c = new_code(&b, &app, &challenge).await;
    let (st, e) = redeem(&s, &app, None, &c, &verifier, REDIRECT).await;
    assert_eq!((st, e["error"].as_str()), (401, Some("invalid_client")));
}

#[tokio::test]
async fn twenty_parallel_redemptions_give_exactly_one_token() {
    let s = Server::start();
    s.create_user("alice", PASSWORD);
    let (app, secret) = s.create_app(&[]);
    let (verifier, challenge) = pkce(4);
    let c = Browser::new(&s).sign_in(&auth_pairs(&app, &challenge), "alice").await.param("code").unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (url, app, secret, c, verifier) =
            (s.url("/oauth2/token"), app.clone(), secret.clone(), c.clone(), verifier.clone());
        tasks.push(tokio::spawn(async move {
            let r = http()
                .post(url)
                .basic_auth(&app, Some(&secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", c.as_str()),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", verifier.as_str()),
                ])
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 400), "{statuses:?}");
}

#[tokio::test]
async fn forms_need_a_csrf_token_bound_to_this_browser() {
    let s = Server::start();
    s.create_user("alice", PASSWORD);
    let (app, _) = s.create_app(&[]);
    let (_, challenge) = pkce(5);
    let victim = Browser::new(&s);
    let attacker = Browser::new(&s);
    let login = victim.authorize(&auth_pairs(&app, &challenge)).await;
    let request = login.field("request").unwrap();
    // Login without a token, with a wrong one, or with another browser's token.
    let own = attacker.authorize(&auth_pairs(&app, &challenge)).await.field("csrf").unwrap();
    for csrf in [None, Some("forged"), Some(own.as_str())] {
        let mut form = vec![("username", "alice"), ("password", PASSWORD), ("request", request.as_str())];
        if let Some(c) = csrf {
            form.push(("csrf", c));
        }
        let r = victim.post("/login", &form).await;
        assert_eq!(r.status, 403, "{csrf:?}");
    }
    let consent = victim.login(&login, "alice", PASSWORD).await;
    assert!(consent.is_consent());
    let request = consent.field("request").unwrap();
    for csrf in [None, Some("forged"), Some(own.as_str())] {
        let mut form = vec![("decision", "allow"), ("request", request.as_str())];
        if let Some(c) = csrf {
            form.push(("csrf", c));
        }
        let r = victim.post("/consent", &form).await;
        assert_eq!((r.status, r.location.is_none()), (403, true), "consent with {csrf:?}");
    }
    // The consent form cannot widen what was asked: its token is bound to the
    // request it was shown for, so an edited request is refused outright.
    let widened = request.replace("openid+profile+email", "openid+profile+email+admin");
    let csrf = consent.field("csrf").unwrap();
    let r = victim.post("/consent", &[("csrf", &csrf), ("request", &widened), ("decision", "allow")]).await;
    assert_eq!((r.status, r.param("code")), (403, None));
}

#[tokio::test]
async fn sign_in_is_throttled_and_never_says_which_part_was_wrong() {
    let s = Server::start();
    s.create_user("alice", PASSWORD);
    let b = Browser::new(&s);
    let page = b.get("/login").await;
    let unknown = b.login(&page, "nobody", "whatever whatever").await;
    let wrong = b.login(&page, "alice", "not the password!").await;
    assert!(unknown.body.contains("Invalid username or password."));
    let strip = |x: &str| x.replace("nobody", "").replace("alice", "");
    assert_eq!(strip(&unknown.body), strip(&wrong.body), "same page for unknown user and wrong password");
    for _ in 0..4 {
        b.login(&page, "alice", "not the password!").await;
    }
    // Six failures on this account: even the right password must wait now.
    let r = b.login(&page, "alice", PASSWORD).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.body.contains("Too many failed sign-in attempts"));
}

#[tokio::test]
async fn pages_cannot_be_framed_and_leak_no_referrer() {
    let s = Server::start();
    let (app, _) = s.create_app(&[]);
    let (_, challenge) = pkce(6);
    let b = Browser::new(&s);
    for r in [
        b.authorize(&auth_pairs(&app, &challenge)).await,
        b.get("/login").await,
        b.get("/oauth2/authorize?client_id=nope").await,
        b.get("/oauth2/logout").await,
    ] {
        assert_eq!(r.headers["x-frame-options"], "DENY");
        assert!(r.headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        assert_eq!(r.headers["referrer-policy"], "no-referrer");
    }
}

#[tokio::test]
async fn browser_endpoints_never_answer_garbage_with_a_5xx() {
    let s = Server::start();
    s.create_user("alice", PASSWORD);
    let (app, _) = s.create_app(&[]);
    let b = Browser::new(&s);
    let huge = "x".repeat(70 * 1024);
    let mut x: u64 = 0x2545F4914F6CDD1D;
    let pieces = [
        "client_id",
        &app,
        "redirect_uri",
        "https%3A%2F%2Fapp.example.com%2Fcb",
        "=",
        "&",
        "%",
        "%FF",
        "%00",
        "+",
        "scope",
        "openid",
        "prompt",
        "none",
        "max_age",
        "99999999999999999999",
        "state",
        "csrf",
        "request",
        "decision",
        "allow",
        "username",
        "alice",
        "password",
        "response_type",
        "code",
    ];
    for i in 0..300 {
        let mut q = String::new();
        for _ in 0..(i % 12) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            q.push_str(pieces[(x % pieces.len() as u64) as usize]);
        }
        for path in ["/oauth2/authorize", "/oauth2/logout"] {
            let r = b.http.get(format!("{}?{q}", s.url(path))).send().await.unwrap();
            assert!(r.status().as_u16() < 500, "GET {path}?{q}: {}", r.status());
        }
        for path in ["/oauth2/authorize", "/login", "/consent", "/oauth2/logout"] {
            let r = b.http.post(s.url(path)).body(q.clone()).send().await.unwrap();
            assert!(r.status().as_u16() < 500, "POST {path} {q}: {}", r.status());
        }
    }
    for path in ["/login", "/consent", "/oauth2/authorize"] {
        let r = b.http.post(s.url(path)).body(huge.clone()).send().await.unwrap();
        assert_eq!(r.status(), 413, "{path}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    }
    // 12 KB of parameters: over the 64-parameter bound, answered with a page.
    let r = b.get(&format!("/oauth2/authorize?{}", "a=b&".repeat(3_000))).await;
    assert_eq!(r.status, 400);
}

/// A signed-in browser cannot answer `prompt=login` or `max_age=0` by
/// posting a consent form: consent is not a sign-in, and a consent form is
/// bound to the request and the session it was shown for.
#[tokio::test]
async fn a_consent_form_does_not_stand_in_for_a_required_sign_in() {
    let s = Server::start();
    s.create_user("bob", PASSWORD);
    let (app, _) = s.create_app(&[]);
    let (_, challenge) = pkce(7);
    let b = Browser::new(&s);
    let login = b.authorize(&auth_pairs(&app, &challenge)).await;
    let consent = b.login(&login, "bob", PASSWORD).await;
    assert!(consent.is_consent(), "{}", consent.body);
    let csrf = consent.field("csrf").unwrap();
    for (k, v) in [("prompt", "login"), ("max_age", "0")] {
        let mut pairs = auth_pairs(&app, &challenge);
        pairs.push((k, v));
        let forged = query(&pairs);
        let r = b.post("/consent", &[("csrf", &csrf), ("request", &forged), ("decision", "allow")]).await;
        assert_eq!((r.status, r.param("code")), (403, None), "{k}={v}: {}", r.body);
    }
    // The page's own form still completes its own request.
    let done = b.consent(&consent, "allow").await;
    assert!(done.param("code").is_some(), "{:?}", done.location);
}

/// A public client has no secret, so anyone holding one of its spent codes
/// can present it again: only a replay that proves the PKCE verifier may
/// revoke the grant (RFC 9700 §4.5 without a denial of service).
#[tokio::test]
async fn a_public_clients_spent_code_revokes_its_grant_only_with_the_verifier() {
    let s = Server::start();
    s.create_user("alice", PASSWORD);
    let (app, _) = s.create_app(&["--public"]);
    let (verifier, challenge) = pkce(9);
    let b = Browser::new(&s);
    let done = b.sign_in(&auth_pairs(&app, &challenge), "alice").await;
    let code = done.param("code").unwrap();
    let (st, tok) = redeem(&s, &app, None, &code, &verifier, REDIRECT).await;
    assert_eq!(st, 200, "{tok}");
    let at = tok["access_token"].as_str().unwrap().to_string();
    let userinfo =
        || async { http().get(s.url("/oauth2/userinfo")).bearer_auth(&at).send().await.unwrap().status().as_u16() };
    let (wrong, _) = pkce(10);
    let (st, e) = redeem(&s, &app, None, &code, &wrong, REDIRECT).await;
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(userinfo().await, 200, "a replay without the verifier changes nothing");
    let (st, _) = redeem(&s, &app, None, &code, &verifier, REDIRECT).await;
    assert_eq!(st, 400);
    assert_eq!(userinfo().await, 401, "a replay with the verifier revokes the grant");
}

/// What is typed as a username may be a password pasted into the wrong
/// field, or 60 KiB of junk: a malformed one is refused before any account
/// is looked up, counted or logged.
#[tokio::test]
async fn malformed_usernames_are_never_logged() {
    let s = Server::start();
    s.create_user("alice", PASSWORD);
    let b = Browser::new(&s);
    let page = b.get("/login").await;
    let pasted = format!("Pasted Secret {}", "Z".repeat(60 * 1024));
    let r = b.login(&page, &pasted, "whatever it is").await;
    assert!(r.body.contains("Invalid username or password"), "{}", r.status);
    let r = b.login(&page, "alice@Example.com Pasted Secret", "whatever it is").await;
    assert!(r.body.contains("Invalid username or password"), "{}", r.status);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let log = s.logs();
    assert!(log.contains("sign-in failed"), "the failures are logged: {log}");
    assert!(!log.to_lowercase().contains("pasted secret"), "what was typed is not: {}", &log[..log.len().min(2000)]);
}
