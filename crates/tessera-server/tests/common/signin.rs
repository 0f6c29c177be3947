//! Sign-in helpers: users and apps from the CLI, and a scripted "browser"
//! (reqwest with a cookie jar, redirects not followed) that walks the
//! authorization, login and consent pages as a person would.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::Value;

use super::{BIN, Server};

pub const PASSWORD: &str = "correct horse battery staple";
pub const REDIRECT: &str = "https://app.example.com/cb";

impl Server {
    /// `tessera user create` with the password on standard input.
    pub fn create_user(&self, username: &str, password: &str) -> String {
        let mut child = Command::new(BIN)
            .args(["user", "create", "--username", username, "--email", &format!("{username}@example.com")])
            .args(["--name", &format!("{username} Example"), "--password-stdin", "--json"])
            .env("TESSERA_DATA_DIR", self.data_dir())
            .env("TESSERA_ISSUER", self.issuer())
            .envs(self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "user create: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["id"].as_str().unwrap().to_string()
    }

    /// A confidential authorization-code client; returns (id, secret).
    pub fn create_app(&self, extra: &[&str]) -> (String, String) {
        let mut args = vec![
            "client",
            "create",
            "--name",
            "Demo App",
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            REDIRECT,
            "--json",
        ];
        if !extra.contains(&"--scope") {
            args.extend_from_slice(&["--scope", "openid profile email inventory:read"]);
        }
        args.extend_from_slice(extra);
        let out = self.cli(&args);
        assert!(out.status.success(), "client create: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (v["client_id"].as_str().unwrap().into(), v["client_secret"].as_str().unwrap_or_default().into())
    }
}

/// A PKCE verifier and its S256 challenge (RFC 7636).
pub fn pkce(seed: u8) -> (String, String) {
    let verifier = Base64UrlUnpadded::encode_string(&[seed; 32]);
    let challenge = tessera_core_challenge(&verifier);
    (verifier, challenge)
}

fn tessera_core_challenge(v: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, v.as_bytes());
    Base64UrlUnpadded::encode_string(d.as_ref())
}

/// Builds an authorization URL query from pairs.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// The standard request pairs for `client_id` with `challenge`.
pub fn auth_pairs<'a>(client_id: &'a str, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile email"),
        ("state", "st-123"),
        ("nonce", "nonce-456"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// A page or redirect as the browser saw it.
pub struct Seen {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Seen {
    /// A hidden input's value, unescaped.
    pub fn field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(unescape(&self.body[start..end]))
    }

    /// A query parameter of the redirect.
    pub fn param(&self, name: &str) -> Option<String> {
        let loc = self.location.as_ref()?;
        let u = url::Url::parse(loc).ok()?;
        u.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }

    pub fn is_login(&self) -> bool {
        self.status == 200 && self.body.contains("name=\"password\"")
    }

    pub fn is_consent(&self) -> bool {
        self.status == 200 && self.body.contains("value=\"allow\"")
    }
}

fn unescape(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
}

/// One browser: its own cookies, no redirects followed.
pub struct Browser {
    pub http: reqwest::Client,
    base: String,
}

impl Browser {
    pub fn new(s: &Server) -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        Self { http, base: s.issuer() }
    }

    pub async fn seen_from(r: reqwest::Response) -> Seen {
        Self::seen(r).await
    }

    async fn seen(r: reqwest::Response) -> Seen {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let location = headers.get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = r.text().await.unwrap_or_default();
        Seen { status, location, headers, body }
    }

    pub async fn get(&self, path_and_query: &str) -> Seen {
        Self::seen(self.http.get(format!("{}{}", self.base, path_and_query)).send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Seen {
        Self::seen(self.http.post(format!("{}{}", self.base, path)).form(form).send().await.unwrap()).await
    }

    pub async fn authorize(&self, pairs: &[(&str, &str)]) -> Seen {
        self.get(&format!("/oauth2/authorize?{}", query(pairs))).await
    }

    /// Submits the login form of `page`.
    pub async fn login(&self, page: &Seen, username: &str, password: &str) -> Seen {
        let csrf = page.field("csrf").expect("login form has a CSRF token");
        let mut form = vec![("csrf", csrf.as_str()), ("username", username), ("password", password)];
        let request = page.field("request");
        if let Some(r) = &request {
            form.push(("request", r));
        }
        let return_to = page.field("return_to");
        if let Some(r) = &return_to {
            form.push(("return_to", r));
        }
        self.post("/login", &form).await
    }

    /// Submits the consent form of `page` with `decision` (allow or deny).
    pub async fn consent(&self, page: &Seen, decision: &str) -> Seen {
        let csrf = page.field("csrf").expect("consent form has a CSRF token");
        let request = page.field("request").expect("consent form carries the request");
        self.post("/consent", &[("csrf", &csrf), ("request", &request), ("decision", decision)]).await
    }

    /// Authorize → login → consent (if asked) → the redirect with the code.
    pub async fn sign_in(&self, pairs: &[(&str, &str)], username: &str) -> Seen {
        let mut page = self.authorize(pairs).await;
        if page.is_login() {
            page = self.login(&page, username, PASSWORD).await;
        }
        if page.is_consent() {
            page = self.consent(&page, "allow").await;
        }
        assert_eq!(
            page.status,
            303,
            "expected a redirect, got {}: {}",
            page.status,
            &page.body[..page.body.len().min(600)]
        );
        page
    }
}

/// Redeems a code at the token endpoint; `secret` None for a public client.
pub async fn redeem(
    s: &Server,
    client_id: &str,
    secret: Option<&str>,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    let mut req = super::http().post(s.url("/oauth2/token"));
    match secret {
        Some(sec) => req = req.basic_auth(client_id, Some(sec)),
        None => form.push(("client_id", client_id)),
    }
    let r = req.form(&form).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}
