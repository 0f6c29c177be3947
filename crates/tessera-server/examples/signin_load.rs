//! Load generator for the browser-facing paths, used by `bench/run.sh`
//! (wrk cannot follow a flow that carries state from one request to the next).
//!
//! ```text
//! signin_load --url http://127.0.0.1:18080 --mode flow|login|refresh|cc|dpop --conns N --duration SECS
//!             --client-secret S [--client-id bench-app] [--warmup SECS] [--server-pid PID]
//!             [--username bench] [--password '...'] [--redirect-uri URI] [--scope 'openid profile']
//!             [--dpop-alg EdDSA|ES256]
//! ```
//!
//! * `flow`: each of N tasks signs in once (and consents, the first time),
//!   serially and before the clock starts, then loops the authorization code
//!   flow with its session cookie: `GET /oauth2/authorize` → 303 with a code →
//!   `POST /oauth2/token` → 200 with an access token (and an ID token when
//!   the scope has `openid`). One flow = both requests.
//! * `refresh`: each of N tasks signs in, gets a refresh token family
//!   (scope must include `offline_access`), then loops `POST /oauth2/token`
//!   with `grant_type=refresh_token`, each time with the successor it got.
//! * `cc`: loops `POST /oauth2/token` with `grant_type=client_credentials`
//!   (the same requests wrk makes, from this client, for `dpop` to compare with).
//! * `dpop`: the same with a fresh DPoP proof (RFC 9449) per request, signed
//!   by one key per task (`--dpop-alg`), carrying the server nonce it learnt
//!   (and learns again on `use_dpop_nonce`); a success is a `DPoP` token.
//! * `login`: each of N tasks fetches a CSRF cookie and token from `GET /login`
//!   once, then loops `POST /login` with the right password → 200 "Signed in".
//!
//! One HTTP/1.1 keep-alive connection per task, redirects not followed,
//! cookies set by hand. Prints one line of JSON: counts, completions per
//! second and latency percentiles over the measured window; with
//! `--server-pid`, also the server's and this process's CPU ticks over the
//! window (utime + stime from `/proc/PID/stat`). Unexpected answers count
//! as errors and the first few are printed to standard error.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64ct::{Base64UrlUnpadded, Encoding};
use reqwest::header::{COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use serde_json::Value;

const SHOWN_ERRORS: usize = 5;

#[derive(Debug, Clone)]
struct Args {
    url: String,
    mode: Mode,
    conns: usize,
    duration: f64,
    warmup: f64,
    client_id: String,
    client_secret: String,
    username: String,
    password: String,
    redirect_uri: String,
    scope: String,
    server_pid: Option<u32>,
    dpop_alg: tessera_pop::dpop::DpopAlg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Flow,
    Login,
    Refresh,
    ClientCredentials,
    Dpop,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        url: String::new(),
        mode: Mode::Flow,
        conns: 32,
        duration: 10.0,
        warmup: 2.0,
        client_id: "bench-app".into(),
        client_secret: String::new(),
        username: "bench".into(),
        password: "correct horse battery staple".into(),
        redirect_uri: "https://app.example.com/cb".into(),
        scope: "openid profile".into(),
        server_pid: None,
        dpop_alg: tessera_pop::dpop::DpopAlg::EdDSA,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--url" => a.url = v.trim_end_matches('/').to_string(),
            "--mode" => {
                a.mode = match v.as_str() {
                    "flow" => Mode::Flow,
                    "login" => Mode::Login,
                    "refresh" => Mode::Refresh,
                    "cc" => Mode::ClientCredentials,
                    "dpop" => Mode::Dpop,
                    _ => bail!("--mode is flow, login, refresh, cc or dpop"),
                }
            }
            "--conns" => a.conns = v.parse().context("--conns")?,
            "--duration" => a.duration = v.trim_end_matches('s').parse().context("--duration")?,
            "--warmup" => a.warmup = v.trim_end_matches('s').parse().context("--warmup")?,
            "--client-id" => a.client_id = v,
            "--client-secret" => a.client_secret = v,
            "--username" => a.username = v,
            "--password" => a.password = v,
            "--redirect-uri" => a.redirect_uri = v,
            "--scope" => a.scope = v,
            "--server-pid" => a.server_pid = Some(v.parse().context("--server-pid")?),
            "--dpop-alg" => {
                a.dpop_alg = match v.as_str() {
                    "EdDSA" => tessera_pop::dpop::DpopAlg::EdDSA,
                    "ES256" => tessera_pop::dpop::DpopAlg::ES256,
                    _ => bail!("--dpop-alg is EdDSA or ES256"),
                }
            }
            _ => bail!("unknown argument {k}"),
        }
    }
    if a.url.is_empty() {
        bail!("--url is required");
    }
    if a.mode != Mode::Login && a.client_secret.is_empty() {
        bail!("--client-secret is required for --mode flow");
    }
    if a.conns == 0 || a.duration <= 0.0 {
        bail!("--conns and --duration must be positive");
    }
    Ok(a)
}

/// A response as far as the load generator cares.
struct Seen {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Seen {
    async fn of(r: reqwest::Response) -> Result<Self> {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().await?;
        Ok(Self { status, headers, body })
    }

    /// A hidden input's value, HTML-unescaped.
    fn field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(unescape(&self.body[start..end]))
    }

    /// The value of a cookie this response sets.
    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next()?.split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.to_string())
    }

    fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }

    fn describe(&self) -> String {
        let body: String = self.body.chars().take(300).collect();
        format!("HTTP {} location={:?} body={body:?}", self.status, self.location())
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

fn http() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1)
        .pool_idle_timeout(Duration::from_secs(300))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// A fresh PKCE verifier and its S256 challenge (RFC 7636 §4.1–4.2).
fn pkce() -> Result<(String, String)> {
    let mut raw = [0u8; 32];
    aws_lc_rs::rand::fill(&mut raw).map_err(|_| anyhow!("no randomness"))?;
    let verifier = Base64UrlUnpadded::encode_string(&raw);
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    Ok((verifier, Base64UrlUnpadded::encode_string(d.as_ref())))
}

fn authorize_url(a: &Args, challenge: &str) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &a.client_id)
        .append_pair("redirect_uri", &a.redirect_uri)
        .append_pair("scope", &a.scope)
        .append_pair("state", "s")
        .append_pair("nonce", "n")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!("{}/oauth2/authorize?{q}", a.url)
}

/// The `code` of a 303 back to the client, if that is what `r` is.
fn code_of(a: &Args, r: &Seen) -> Option<String> {
    if r.status != 303 {
        return None;
    }
    let loc = url::Url::parse(r.location()?).ok()?;
    if !loc.as_str().starts_with(&a.redirect_uri) {
        return None;
    }
    let mut code = None;
    let mut state_ok = false;
    for (k, v) in loc.query_pairs() {
        match &*k {
            "code" => code = Some(v.into_owned()),
            "state" => state_ok = v == "s",
            _ => {}
        }
    }
    code.filter(|_| state_ok)
}

/// One browser's sign-in through the authorization endpoint: authorize →
/// login → consent (the first time for this user and client) → 303 with a
/// code. Returns the session cookie's value.
async fn sign_in(a: &Args, c: &reqwest::Client) -> Result<String> {
    let (_, challenge) = pkce()?;
    let page = Seen::of(c.get(authorize_url(a, &challenge)).send().await?).await?;
    let csrf_cookie =
        page.set_cookie("tessera_csrf").with_context(|| format!("no CSRF cookie: {}", page.describe()))?;
    let csrf = page.field("csrf").with_context(|| format!("not a login page: {}", page.describe()))?;
    let request = page.field("request").with_context(|| format!("no request field: {}", page.describe()))?;
    let form = [
        ("csrf", csrf.as_str()),
        ("username", a.username.as_str()),
        ("password", a.password.as_str()),
        ("request", request.as_str()),
    ];
    let r = Seen::of(
        c.post(format!("{}/login", a.url))
            .header(COOKIE, format!("tessera_csrf={csrf_cookie}"))
            .form(&form)
            .send()
            .await?,
    )
    .await?;
    let session = r.set_cookie("tessera_session").with_context(|| format!("sign-in failed: {}", r.describe()))?;
    if code_of(a, &r).is_some() {
        return Ok(session);
    }
    let csrf = r.field("csrf").with_context(|| format!("neither a code nor a consent page: {}", r.describe()))?;
    let request = r.field("request").with_context(|| format!("no request on the consent page: {}", r.describe()))?;
    let form = [("csrf", csrf.as_str()), ("request", request.as_str()), ("decision", "allow")];
    let r = Seen::of(
        c.post(format!("{}/consent", a.url))
            .header(COOKIE, format!("tessera_csrf={csrf_cookie}; tessera_session={session}"))
            .form(&form)
            .send()
            .await?,
    )
    .await?;
    code_of(a, &r).with_context(|| format!("consent gave no code: {}", r.describe()))?;
    Ok(session)
}

/// What one task does over and over.
enum Job {
    Flow {
        session: String,
    },
    Login {
        csrf_cookie: String,
        csrf: String,
    },
    /// The family's current refresh token; each refresh replaces it.
    Refresh {
        token: std::sync::Mutex<String>,
    },
    ClientCredentials,
    /// The task's key and the last server nonce it was given.
    Dpop {
        key: tessera_pop::dpop::ProofKey,
        nonce: std::sync::Mutex<Option<String>>,
    },
}

/// `POST /oauth2/token` with the bench client's credentials; the answer and its JSON.
async fn post_token(a: &Args, c: &reqwest::Client, form: &[(&str, &str)]) -> Result<(Seen, Value)> {
    let r = Seen::of(
        c.post(format!("{}/oauth2/token", a.url))
            .basic_auth(&a.client_id, Some(&a.client_secret))
            .form(form)
            .send()
            .await?,
    )
    .await?;
    let v = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    Ok((r, v))
}

/// One code flow that asks for `offline_access`, for the refresh token it yields.
async fn first_refresh_token(a: &Args, c: &reqwest::Client, session: &str) -> Result<String> {
    let (verifier, challenge) = pkce()?;
    let r = Seen::of(
        c.get(authorize_url(a, &challenge)).header(COOKIE, format!("tessera_session={session}")).send().await?,
    )
    .await?;
    let code = code_of(a, &r).with_context(|| format!("authorize: {}", r.describe()))?;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", a.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let (r, v) = post_token(a, c, &form).await?;
    v["refresh_token"].as_str().map(str::to_string).with_context(|| format!("no refresh token: {}", r.describe()))
}

/// One refresh with the family's current token; the successor replaces it.
async fn refresh(
    a: &Args,
    c: &reqwest::Client,
    token: &std::sync::Mutex<String>,
) -> Result<std::result::Result<(), String>> {
    let current = token.lock().map(|t| t.clone()).unwrap_or_default();
    let form = [("grant_type", "refresh_token"), ("refresh_token", current.as_str())];
    let (r, v) = post_token(a, c, &form).await?;
    match (r.status, v["access_token"].as_str(), v["refresh_token"].as_str()) {
        (200, Some(_), Some(next)) if next != current => {
            if let Ok(mut t) = token.lock() {
                *t = next.to_string();
            }
            Ok(Ok(()))
        }
        _ => Ok(Err(format!("refresh: {}", r.describe()))),
    }
}

/// One client_credentials request, with a fresh DPoP proof when `dpop` is
/// given; a stale nonce is learnt again and counts as an error.
async fn client_credentials(
    a: &Args,
    c: &reqwest::Client,
    dpop: Option<(&tessera_pop::dpop::ProofKey, &std::sync::Mutex<Option<String>>)>,
) -> Result<std::result::Result<(), String>> {
    static JTI: AtomicUsize = AtomicUsize::new(0);
    let mut req = c
        .post(format!("{}/oauth2/token", a.url))
        .basic_auth(&a.client_id, Some(&a.client_secret))
        .form(&[("grant_type", "client_credentials")]);
    let want = if let Some((key, nonce)) = dpop {
        let htu = format!("{}/oauth2/token", a.url);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
        let jti = format!("{}-{}", std::process::id(), JTI.fetch_add(1, Ordering::Relaxed));
        let current = nonce.lock().map(|n| n.clone()).unwrap_or_default();
        let proof = tessera_pop::dpop::make_proof(key, "POST", &htu, None, current.as_deref(), now, &jti)
            .map_err(|e| anyhow!("proof: {e}"))?;
        req = req.header("DPoP", proof);
        "DPoP"
    } else {
        "Bearer"
    };
    let r = Seen::of(req.send().await?).await?;
    if let (Some((_, nonce)), Some(fresh)) = (dpop, r.headers.get("dpop-nonce").and_then(|v| v.to_str().ok()))
        && let Ok(mut n) = nonce.lock()
    {
        *n = Some(fresh.to_string());
    }
    let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    match (r.status, v["token_type"].as_str()) {
        (200, Some(t)) if t == want => Ok(Ok(())),
        _ => Ok(Err(format!("client_credentials: {}", r.describe()))),
    }
}

/// One authorization code flow; Err describes the unexpected answer.
async fn flow(a: &Args, c: &reqwest::Client, session: &str) -> Result<std::result::Result<(), String>> {
    let (verifier, challenge) = pkce()?;
    let r = Seen::of(
        c.get(authorize_url(a, &challenge)).header(COOKIE, format!("tessera_session={session}")).send().await?,
    )
    .await?;
    let Some(code) = code_of(a, &r) else { return Ok(Err(format!("authorize: {}", r.describe()))) };
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", a.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let (r, v) = post_token(a, c, &form).await?;
    let openid = a.scope.split(' ').any(|s| s == "openid");
    if r.status != 200 || v["access_token"].as_str().is_none() || (openid && v["id_token"].as_str().is_none()) {
        return Ok(Err(format!("token: {}", r.describe())));
    }
    Ok(Ok(()))
}

/// One password sign-in; Err describes the unexpected answer.
async fn login(
    a: &Args,
    c: &reqwest::Client,
    csrf_cookie: &str,
    csrf: &str,
) -> Result<std::result::Result<(), String>> {
    let form = [("csrf", csrf), ("username", a.username.as_str()), ("password", a.password.as_str())];
    let r = Seen::of(
        c.post(format!("{}/login", a.url))
            .header(COOKIE, format!("tessera_csrf={csrf_cookie}"))
            .form(&form)
            .send()
            .await?,
    )
    .await?;
    if r.status != 200 || !r.body.contains("<title>Signed in") || r.set_cookie("tessera_session").is_none() {
        return Ok(Err(format!("login: {}", r.describe())));
    }
    Ok(Ok(()))
}

#[derive(Default)]
struct Tally {
    ok: u64,
    errors: u64,
    /// Latencies of successful iterations completed in the window, in ms.
    lat: Vec<f64>,
}

async fn worker(
    a: Arc<Args>,
    c: reqwest::Client,
    job: Job,
    start: Instant,
    end: Instant,
    shown: Arc<AtomicUsize>,
) -> Tally {
    let mut t = Tally::default();
    while Instant::now() < end {
        let t0 = Instant::now();
        let res = match &job {
            Job::Flow { session } => flow(&a, &c, session).await,
            Job::Login { csrf_cookie, csrf } => login(&a, &c, csrf_cookie, csrf).await,
            Job::Refresh { token } => refresh(&a, &c, token).await,
            Job::ClientCredentials => client_credentials(&a, &c, None).await,
            Job::Dpop { key, nonce } => client_credentials(&a, &c, Some((key, nonce))).await,
        };
        let t1 = Instant::now();
        let err = match res {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(e) => Some(format!("transport: {e:#}")),
        };
        if let Some(e) = &err
            && shown.fetch_add(1, Ordering::Relaxed) < SHOWN_ERRORS
        {
            eprintln!("signin_load: error: {e}");
        }
        // Count what completed inside the measured window.
        if t1 < start || t1 > end {
            continue;
        }
        match err {
            None => {
                t.ok += 1;
                t.lat.push((t1 - t0).as_secs_f64() * 1e3);
            }
            Some(_) => t.errors += 1,
        }
    }
    t
}

/// utime + stime of a process, in clock ticks (`/proc/PID/stat` fields 14, 15).
fn cpu_ticks(pid: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name start at field 3.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

async fn run(a: Arc<Args>) -> Result<()> {
    // Setup, serially and off the clock: one connection, and one session or
    // CSRF token, per task.
    let mut jobs = Vec::with_capacity(a.conns);
    for i in 0..a.conns {
        let c = http()?;
        let job = match a.mode {
            Mode::Flow => Job::Flow { session: sign_in(&a, &c).await.with_context(|| format!("sign-in {i}"))? },
            Mode::Refresh => {
                let session = sign_in(&a, &c).await.with_context(|| format!("sign-in {i}"))?;
                let token = first_refresh_token(&a, &c, &session).await.with_context(|| format!("family {i}"))?;
                Job::Refresh { token: std::sync::Mutex::new(token) }
            }
            Mode::ClientCredentials => Job::ClientCredentials,
            Mode::Dpop => {
                let key = tessera_pop::dpop::ProofKey::generate(a.dpop_alg).map_err(|e| anyhow!("key: {e}"))?;
                let job = Job::Dpop { key, nonce: std::sync::Mutex::new(None) };
                // The first proof has no nonce: its refusal brings one.
                if let Job::Dpop { key, nonce } = &job {
                    let _ = client_credentials(&a, &c, Some((key, nonce))).await?;
                }
                job
            }
            Mode::Login => {
                let page = Seen::of(c.get(format!("{}/login", a.url)).send().await?).await?;
                let csrf_cookie =
                    page.set_cookie("tessera_csrf").with_context(|| format!("no CSRF cookie: {}", page.describe()))?;
                let csrf = page.field("csrf").with_context(|| format!("not a login page: {}", page.describe()))?;
                Job::Login { csrf_cookie, csrf }
            }
        };
        jobs.push((c, job));
    }
    let shown = Arc::new(AtomicUsize::new(0));
    let start = Instant::now() + Duration::from_secs_f64(a.warmup);
    let end = start + Duration::from_secs_f64(a.duration);
    let handles: Vec<_> =
        jobs.into_iter().map(|(c, job)| tokio::spawn(worker(a.clone(), c, job, start, end, shown.clone()))).collect();
    // CPU over the measured window only.
    let pid = a.server_pid.map(|p| p.to_string());
    tokio::time::sleep_until(start.into()).await;
    let srv0 = pid.as_deref().and_then(cpu_ticks);
    let own0 = cpu_ticks("self");
    tokio::time::sleep_until(end.into()).await;
    let srv1 = pid.as_deref().and_then(cpu_ticks);
    let own1 = cpu_ticks("self");
    let window = a.duration;

    let mut all = Tally::default();
    for h in handles {
        let t = h.await?;
        all.ok += t.ok;
        all.errors += t.errors;
        all.lat.extend(t.lat);
    }
    all.lat.sort_by(f64::total_cmp);
    let mode = match a.mode {
        Mode::Flow => "flow",
        Mode::Login => "login",
        Mode::Refresh => "refresh",
        Mode::ClientCredentials => "cc",
        Mode::Dpop => "dpop",
    };
    // Written by hand to keep the keys in this order.
    let mut out = format!(
        "{{\"mode\":\"{mode}\",\"ok\":{},\"errors\":{},\"per_sec\":{},\"p50_ms\":{},\"p99_ms\":{},\"conns\":{},\"window_s\":{window}",
        all.ok,
        all.errors,
        round2(all.ok as f64 / window),
        round2(percentile(&all.lat, 50.0)),
        round2(percentile(&all.lat, 99.0)),
        a.conns,
    );
    if let (Some(b), Some(e)) = (srv0, srv1) {
        out.push_str(&format!(",\"srv_cpu_ticks\":{}", e - b));
    }
    if let (Some(b), Some(e)) = (own0, own1) {
        out.push_str(&format!(",\"own_cpu_ticks\":{}", e - b));
    }
    println!("{out}}}");
    Ok(())
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn main() -> Result<()> {
    let a = Arc::new(parse_args()?);
    // One worker thread: bench/run.sh pins this process to one CPU.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    rt.block_on(run(a))
}
