//! The sign-in pages in a real browser: headless Chromium, driven by
//! `tests/browser/signin.mjs`, types the credentials into the labelled login
//! form and clicks the consent buttons. Checks the redirect back to the
//! client (code, state, RFC 9207 `iss`, or `access_denied`), the cookies as
//! the browser stored them, that consent is remembered server-side across
//! browser profiles, and the wrong-password message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use common::signin::*;
use common::*;
use serde_json::Value;

/// The workspace root: `signin.mjs` resolves `playwright-core` from there.
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const CHROMIUM: &str = "/usr/bin/chromium";

/// Installs the driver's npm packages on first use (the npm registry is the
/// only network this needs); fails (never skips) when Chromium is missing.
fn require_browser() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: run `.ci/run`, or install it with \
         `apt-get install -y --no-install-recommends chromium` (see tests/browser/README.md)"
    );
    static NPM: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let installed = NPM.get_or_init(|| {
        if Path::new(ROOT).join("tests/browser/node_modules/playwright-core").is_dir() {
            return Ok(());
        }
        let out = Command::new("npm")
            .args(["ci", "--prefix", "tests/browser", "--no-audit", "--no-fund"])
            .current_dir(ROOT)
            .output()
            .map_err(|e| format!("cannot run npm: {e}"))?;
        if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
    });
    if let Err(e) = installed {
        panic!("`npm ci --prefix tests/browser` failed (see tests/browser/README.md): {e}");
    }
}

/// Runs `signin.mjs` with exactly `env` as its input and returns its JSON line.
fn chromium(env: &[(&str, &str)]) -> Value {
    require_browser();
    let mut cmd = Command::new("node");
    cmd.arg("tests/browser/signin.mjs").current_dir(ROOT);
    // Inputs not given here must not leak in from the caller's environment.
    for var in ["REDIRECT_URI", "CONSENT", "MODE", "SCREENSHOT_DIR", "TIMEOUT_MS"] {
        cmd.env_remove(var);
    }
    let out = cmd.envs(env.iter().copied()).output().unwrap_or_else(|e| {
        panic!("cannot run `node` ({e}): install Node.js 20 or run `.ci/run` (see tests/browser/README.md)")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "signin.mjs failed ({}):\nstdout: {stdout}\nstderr: {stderr}", out.status);
    let line = stdout.lines().last().unwrap_or_else(|| panic!("signin.mjs printed nothing; stderr: {stderr}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("signin.mjs printed {line:?}: {e}"))
}

fn authorize_url(s: &Server, pairs: &[(&str, &str)]) -> String {
    s.url(&format!("/oauth2/authorize?{}", query(pairs)))
}

/// The redirect's query parameters, after checking it goes to the client.
fn redirect_params(out: &Value) -> Vec<(String, String)> {
    let redirect = out["redirect"].as_str().unwrap_or_else(|| panic!("no redirect: {out}"));
    assert!(redirect.starts_with(&format!("{REDIRECT}?")), "{redirect}");
    url::Url::parse(redirect).unwrap().query_pairs().into_owned().collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// One full sign-in in a fresh Chromium profile; returns the script's output
/// after redeeming the code it brought back.
async fn sign_in(s: &Server, app: &str, secret: &str, seed: u8, screenshots: Option<&Path>) -> Value {
    let (verifier, challenge) = pkce(seed);
    let state = format!("st-browser-{seed}");
    let mut pairs = auth_pairs(app, &challenge);
    pairs.retain(|(k, _)| *k != "state");
    pairs.push(("state", &state));
    let url = authorize_url(s, &pairs);
    let shots = screenshots.map(|p| p.to_str().unwrap().to_string());
    let mut env = vec![
        ("AUTHORIZE_URL", url.as_str()),
        ("REDIRECT_URI", REDIRECT),
        ("USERNAME", "alice"),
        ("PASSWORD", PASSWORD),
        ("CONSENT", "allow"),
    ];
    if let Some(dir) = &shots {
        env.push(("SCREENSHOT_DIR", dir));
    }
    let out = chromium(&env);

    let params = redirect_params(&out);
    assert_eq!(param(&params, "state"), Some(state.as_str()), "{out}");
    assert_eq!(param(&params, "iss"), Some(s.issuer().as_str()), "RFC 9207: {out}");
    assert_eq!(param(&params, "error"), None, "{out}");
    let code = param(&params, "code").unwrap_or_else(|| panic!("no code: {out}"));
    let (st, tok) = redeem(s, app, Some(secret), code, &verifier, REDIRECT).await;
    assert_eq!(st, 200, "{tok}");
    assert!(tok["access_token"].as_str().is_some_and(|t| !t.is_empty()), "{tok}");
    assert!(tok["id_token"].as_str().is_some_and(|t| !t.is_empty()), "{tok}");
    out
}

#[tokio::test]
async fn chromium_signs_in_consents_and_consent_is_remembered() {
    let s = Server::start();
    s.create_user("alice", PASSWORD);
    let (app, secret) = s.create_app(&[]);
    let shots = tempfile::tempdir().unwrap();

    let first = sign_in(&s, &app, &secret, 1, Some(shots.path())).await;
    assert_eq!(first["consentShown"], true, "first sign-in must ask for consent: {first}");
    let cookies = first["cookies"].as_array().unwrap_or_else(|| panic!("no cookies: {first}"));
    let session = cookies
        .iter()
        .find(|c| c["name"] == "tessera_session")
        .unwrap_or_else(|| panic!("browser has no tessera_session cookie: {first}"));
    assert_eq!(session["httpOnly"], true, "{session}");
    assert_eq!(session["sameSite"], "Lax", "{session}");
    assert!(cookies.iter().any(|c| c["name"] == "tessera_csrf"), "{first}");

    for name in ["login.png", "consent.png"] {
        let png = std::fs::read(shots.path().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000, "{name}: {} bytes", png.len());
    }

    // A new profile (no cookies): the user signs in again, but the grant is
    // stored for this user and client, so no consent page this time.
    let second = sign_in(&s, &app, &secret, 2, None).await;
    assert_eq!(second["consentShown"], false, "consent should be remembered: {second}");
}

#[tokio::test]
async fn chromium_deny_returns_access_denied_with_state() {
    let s = Server::start();
    s.create_user("alice", PASSWORD);
    let (app, _) = s.create_app(&[]);
    let (_, challenge) = pkce(3);
    let url = authorize_url(&s, &auth_pairs(&app, &challenge));
    let out = chromium(&[
        ("AUTHORIZE_URL", &url),
        ("REDIRECT_URI", REDIRECT),
        ("USERNAME", "alice"),
        ("PASSWORD", PASSWORD),
        ("CONSENT", "deny"),
    ]);
    assert_eq!(out["consentShown"], true, "{out}");
    let params = redirect_params(&out);
    assert_eq!(param(&params, "error"), Some("access_denied"), "{out}");
    assert_eq!(param(&params, "state"), Some("st-123"), "{out}");
    assert_eq!(param(&params, "code"), None, "{out}");
}

#[tokio::test]
async fn chromium_wrong_password_stays_on_login_page() {
    let s = Server::start();
    s.create_user("alice", PASSWORD);
    let (app, _) = s.create_app(&[]);
    let (_, challenge) = pkce(4);
    let url = authorize_url(&s, &auth_pairs(&app, &challenge));
    let out = chromium(&[
        ("AUTHORIZE_URL", &url),
        ("USERNAME", "alice"),
        ("PASSWORD", "not the password"),
        ("MODE", "login-only"),
    ]);
    let text = out["text"].as_str().unwrap_or_else(|| panic!("no page text: {out}"));
    assert!(text.contains("Invalid username or password."), "{out}");
    let at = out["url"].as_str().unwrap();
    assert!(at.starts_with(&format!("{}/", s.issuer())), "left the server: {at}");
}
