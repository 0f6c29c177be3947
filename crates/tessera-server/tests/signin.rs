//! The authorization code flow over real HTTP: pages, cookies, codes, ID
//! tokens, userinfo and logout, as a scripted browser walks them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64ct::{Base64UrlUnpadded, Encoding};
use common::signin::*;
use common::*;
use serde_json::Value;

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn code_flow_issues_tokens_id_token_and_userinfo() {
    let s = Server::start();
    let user_id = s.create_user("alice", PASSWORD);
    let (app, secret) = s.create_app(&[]);
    let (verifier, challenge) = pkce(1);
    let b = Browser::new(&s);

    let login = b.authorize(&auth_pairs(&app, &challenge)).await;
    assert!(login.is_login(), "{}", login.body);
    for (h, v) in [("x-frame-options", "DENY"), ("referrer-policy", "no-referrer"), ("cache-control", "no-store")] {
        assert_eq!(login.headers.get(h).unwrap(), v, "{h}");
    }
    let csp = login.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(login.body.contains("<label for=\"username\">") && login.body.contains("<label for=\"password\">"));

    let consent = b.login(&login, "ALICE", PASSWORD).await; // usernames are case-insensitive
    let cookie = consent.headers.get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(cookie.starts_with("tessera_session=tsr_ss_"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(consent.is_consent(), "{}", consent.body);
    assert!(consent.body.contains("Demo App") && consent.body.contains("See your email address"));

    let done = b.consent(&consent, "allow").await;
    assert_eq!(done.status, 303);
    assert!(done.location.as_ref().unwrap().starts_with(REDIRECT));
    assert_eq!(done.param("state").as_deref(), Some("st-123"));
    assert_eq!(done.param("iss"), Some(s.issuer()), "RFC 9207");
    let code = done.param("code").unwrap();
    assert!(code.starts_with("tsr_ac_"));

    let (st, tok) = redeem(&s, &app, Some(&secret), &code, &verifier, REDIRECT).await;
    assert_eq!(st, 200, "{tok}");
    let at = tok["access_token"].as_str().unwrap();
    let id = claims(tok["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], user_id.as_str());
    assert_eq!(id["aud"], app.as_str());
    assert_eq!(id["iss"], s.issuer().as_str());
    assert_eq!(id["nonce"], "nonce-456");
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    assert_eq!(id["email"], "alice@example.com");
    assert_eq!(id["preferred_username"], "alice");
    for c in ["exp", "iat", "auth_time", "at_hash", "sid"] {
        assert!(id.get(c).is_some(), "ID token lacks {c}: {id}");
    }
    let header: Value = serde_json::from_slice(
        &Base64UrlUnpadded::decode_vec(tok["id_token"].as_str().unwrap().split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256", "the OpenID default");
    let access = claims(at);
    assert_eq!(access["sub"], user_id.as_str());
    assert_eq!(access["scope"], "openid profile email");
    assert!(access.get("grant_id").is_some() && access.get("auth_time").is_some());

    let info: Value = http().get(s.url("/oauth2/userinfo")).bearer_auth(at).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["sub"], user_id.as_str());
    assert_eq!(info["email"], "alice@example.com");
    assert_eq!(info["name"], "alice Example");

    // Consent is remembered: the next authorization goes straight back with a code.
    let (_, challenge2) = pkce(2);
    let again = b.authorize(&auth_pairs(&app, &challenge2)).await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert!(again.param("code").is_some());

    // The operator sees the grant and the session.
    let out = s.cli(&["grant", "list", "--user", "alice", "--json"]);
    let grants: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(grants.as_array().unwrap().len(), 1);
    assert_eq!(grants[0]["id"], access["grant_id"]);
    let out = s.cli(&["user", "sessions", "alice", "--json"]);
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().len(), 1);

    // Revoking the grant kills its tokens at once.
    let gid = access["grant_id"].as_str().unwrap();
    assert!(s.cli(&["grant", "revoke", gid]).status.success());
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await; // the server follows the feed every second
    let r = http().get(s.url("/oauth2/userinfo")).bearer_auth(at).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
}

#[tokio::test]
async fn deny_prompt_and_logout() {
    let s = Server::start();
    s.create_user("bob", PASSWORD);
    let (app, _) = s.create_app(&["--post-logout-redirect-uri", "https://app.example.com/bye"]);
    let (_, challenge) = pkce(3);
    let b = Browser::new(&s);

    // prompt=none without a session: login_required, sent back to the client.
    let mut pairs = auth_pairs(&app, &challenge);
    pairs.push(("prompt", "none"));
    let r = b.authorize(&pairs).await;
    assert_eq!((r.status, r.param("error").as_deref()), (303, Some("login_required")));
    assert_eq!(r.param("state").as_deref(), Some("st-123"));

    let login = b.authorize(&auth_pairs(&app, &challenge)).await;
    let consent = b.login(&login, "bob", PASSWORD).await;
    let denied = b.consent(&consent, "deny").await;
    assert_eq!(denied.param("error").as_deref(), Some("access_denied"));
    assert_eq!(denied.param("iss"), Some(s.issuer()));

    // Signed in but never consented: prompt=none cannot ask.
    let r = b.authorize(&pairs).await;
    assert_eq!(r.param("error").as_deref(), Some("consent_required"));

    // prompt=login asks again even with a session, then completes without a loop.
    let mut relogin = auth_pairs(&app, &challenge);
    relogin.push(("prompt", "login"));
    let page = b.authorize(&relogin).await;
    assert!(page.is_login());
    let page = b.login(&page, "bob", PASSWORD).await;
    assert!(page.is_consent());
    let done = b.consent(&page, "allow").await;
    assert!(done.param("code").is_some());
    // max_age=0 also forces a fresh sign-in.
    let mut aged = auth_pairs(&app, &challenge);
    aged.push(("max_age", "0"));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(b.authorize(&aged).await.is_login());

    // Logout to an unregistered address is an error page, never a redirect.
    let evil = query(&[("client_id", &app), ("post_logout_redirect_uri", "https://evil.example/")]);
    let r = b.get(&format!("/oauth2/logout?{evil}")).await;
    assert_eq!((r.status, r.location.is_none()), (400, true));
    // A registered one: confirm, then back to the client with state.
    let q = query(&[("client_id", &app), ("post_logout_redirect_uri", "https://app.example.com/bye"), ("state", "s9")]);
    let confirm = b.get(&format!("/oauth2/logout?{q}")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Sign out"));
    let csrf = confirm.field("csrf").unwrap();
    let bye = b
        .post(
            "/oauth2/logout",
            &[
                ("csrf", csrf.as_str()),
                ("client_id", app.as_str()),
                ("post_logout_redirect_uri", "https://app.example.com/bye"),
                ("state", "s9"),
            ],
        )
        .await;
    assert_eq!(bye.location.as_deref(), Some("https://app.example.com/bye?state=s9"));
    assert!(b.authorize(&auth_pairs(&app, &challenge)).await.is_login(), "the session is over");

    // Signing in without an application, then out from the same page.
    let page = b.get("/login").await;
    let home = b.login(&page, "bob", PASSWORD).await;
    assert!(home.body.contains("You are signed in as bob."), "{}", home.body);
    let csrf = home.field("csrf").unwrap();
    let out = b.post("/oauth2/logout", &[("csrf", csrf.as_str())]).await;
    assert!(out.body.contains("You are signed out."));
    assert!(b.get("/login").await.is_login());
}

#[tokio::test]
async fn public_spa_client_with_cors() {
    let s = Server::start();
    s.create_user("carol", PASSWORD);
    let out = s.cli(&[
        "client",
        "create",
        "--name",
        "SPA",
        "--id",
        "spa",
        "--public",
        "--grant-type",
        "authorization_code",
        "--redirect-uri",
        REDIRECT,
        "--allowed-origin",
        "https://app.example.com",
        "--scope",
        "openid",
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["token_endpoint_auth_method"], "none");
    assert!(v.get("client_secret").is_none(), "a public client has no secret");

    let (verifier, challenge) = pkce(4);
    let mut pairs = auth_pairs("spa", &challenge);
    pairs[3] = ("scope", "openid");
    let done = Browser::new(&s).sign_in(&pairs, "carol").await;
    let code = done.param("code").unwrap();
    let send = |origin: &'static str| {
        http()
            .post(s.url("/oauth2/token"))
            .header("origin", origin)
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", "spa"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
    };
    let r = send("https://app.example.com").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "https://app.example.com");
    // An unregistered origin gets no CORS headers (here: a replay, refused anyway).
    let r = send("https://evil.example").await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("access-control-allow-origin").is_none());

    let pre = |origin: &'static str| {
        http()
            .request(reqwest::Method::OPTIONS, s.url("/oauth2/token"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let ok = pre("https://app.example.com").await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://app.example.com");
    assert!(pre("https://evil.example").await.unwrap().headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn userinfo_answers_rfc6750_challenges() {
    let s = Server::start();
    let r = http().get(s.url("/oauth2/userinfo")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"tessera\"");
    let r = http().get(s.url("/oauth2/userinfo")).bearer_auth("garbage").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("error=\"invalid_token\""));
    let r = http().get(s.url("/oauth2/userinfo?access_token=x")).send().await.unwrap();
    assert_eq!(r.status(), 400, "never a token in the URL");
    let r = http().post(s.url("/oauth2/userinfo")).form(&[("access_token", "x")]).send().await.unwrap();
    assert_eq!(r.status(), 400, "nor in the body");
    // A machine token has no openid scope.
    let (id, secret) = s.create_client(&["--scope", "read"]);
    let at = access_token(&s, &id, &secret).await;
    let r = http().get(s.url("/oauth2/userinfo")).bearer_auth(&at).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));
}

#[tokio::test]
async fn disabling_a_user_ends_sessions_and_revokes_tokens() {
    let s = Server::start();
    s.create_user("dave", PASSWORD);
    let (app, secret) = s.create_app(&["--token-format", "opaque"]);
    let (rs, rs_secret) = s.create_client(&["--introspection"]);
    let (verifier, challenge) = pkce(5);
    let b = Browser::new(&s);
    let code = b.sign_in(&auth_pairs(&app, &challenge), "dave").await.param("code").unwrap();
    let (_, tok) = redeem(&s, &app, Some(&secret), &code, &verifier, REDIRECT).await;
    let at = tok["access_token"].as_str().unwrap();
    assert!(at.starts_with("tsr_at_"));
    assert_eq!(introspect(&s, &rs, &rs_secret, at).await["active"], true);

    let out = s.cli(&["user", "disable", "dave"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await; // the server follows the feed every second
    assert_eq!(introspect(&s, &rs, &rs_secret, at).await["active"], false);
    assert!(b.authorize(&auth_pairs(&app, &challenge)).await.is_login(), "the session ended");
    let page = b.authorize(&auth_pairs(&app, &challenge)).await;
    let r = b.login(&page, "dave", PASSWORD).await;
    assert!(r.body.contains("Invalid username or password."), "a disabled user cannot sign in");

    // Enabled again, they can; bad CLI input is a one-line error.
    assert!(s.cli(&["user", "enable", "dave"]).status.success());
    let out = s.cli(&["user", "show", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    let out = s.cli(&["grant", "revoke", "no-such-grant"]);
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn cli_refuses_weak_passwords_and_bad_redirect_uris() {
    let s = Server::start();
    for pw in ["short", "password1234", "Qwerty123456"] {
        let mut child = std::process::Command::new(BIN)
            .args(["user", "create", "--username", "eve", "--email", "eve@example.com", "--password-stdin"])
            .env("TESSERA_DATA_DIR", s.data_dir())
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), format!("{pw}\n").as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{pw} accepted");
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: the password"), "{pw}");
    }
    for bad in
        ["javascript:alert(1)", "http://app.example.com/cb", "https://*.example.com/cb", "https://a.example/cb#x"]
    {
        let out =
            s.cli(&["client", "create", "--name", "x", "--grant-type", "authorization_code", "--redirect-uri", bad]);
        assert_eq!(out.status.code(), Some(1), "{bad} accepted");
    }
    let out = s.cli(&["client", "create", "--name", "x", "--public", "--grant-type", "client_credentials"]);
    assert_eq!(out.status.code(), Some(1), "a public client cannot use client credentials");
}

#[tokio::test]
async fn sessions_codes_and_consent_survive_kill9() {
    let mut s = Server::start();
    s.create_user("erin", PASSWORD);
    let (app, secret) = s.create_app(&[]);
    let (verifier, challenge) = pkce(7);
    let b = Browser::new(&s);
    // Acknowledged: the 303 carrying the code; the session cookie; the consent.
    let code = b.sign_in(&auth_pairs(&app, &challenge), "erin").await.param("code").unwrap();
    s.kill9();
    s.spawn();
    let (st, tok) = redeem(&s, &app, Some(&secret), &code, &verifier, REDIRECT).await;
    assert_eq!(st, 200, "the code survives kill -9: {tok}");
    let again = b.authorize(&auth_pairs(&app, &challenge)).await;
    assert_eq!(again.status, 303, "session and consent survive kill -9: {}", again.body);
}
