//! `inventory-client`: calls the inventory API with an access token from
//! tessera-client (client credentials, for the API's audience).
//!
//! - `token`: prints a fresh access token (to revoke it with curl, say);
//! - `list`, `add NAME QTY`: one call each; on a refusal prints the API's
//!   status and error (from `WWW-Authenticate`) and exits with 1;
//! - `watch`: `GET /items` every second with the same token, printing one
//!   status line per call, so a revoked token is seen refused.
//!
//! With `--token` (or `INVENTORY_TOKEN`) that token is used as it is, never
//! renewed; otherwise `list` and `add` go through an `AuthorizedClient`,
//! which fetches a new token once when the API answers 401.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use reqwest::header::WWW_AUTHENTICATE;
use reqwest::{Method, Response, StatusCode};
use serde::Deserialize;
use tessera_client::{AuthorizedClient, ClientAuth, TokenSource};
use tracing_subscriber::EnvFilter;

/// Calls the inventory API with a token from a Tessera issuer.
#[derive(Parser)]
#[command(name = "inventory-client", version)]
struct Args {
    /// The authorization server.
    #[arg(long, global = true, env = "TESSERA_ISSUER", default_value = "http://127.0.0.1:8080")]
    issuer: String,
    /// The API's base URL.
    #[arg(long, global = true, env = "INVENTORY_API", default_value = "http://127.0.0.1:8081")]
    api: String,
    /// The resource (RFC 8707) to ask a token for [default: --api].
    #[arg(long, global = true, env = "INVENTORY_AUDIENCE")]
    resource: Option<String>,
    /// This application's client id at the issuer.
    #[arg(long, global = true, env = "INVENTORY_APP_ID", default_value = "inventory-app")]
    client_id: String,
    /// Its secret (prefer the environment variable: flags show in `ps`).
    #[arg(long, global = true, env = "INVENTORY_APP_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    /// Space-separated scopes to ask for.
    #[arg(long, global = true, env = "INVENTORY_SCOPE", default_value = "inventory:read inventory:write")]
    scope: String,
    /// Use this access token as it is (never renewed) instead of getting one.
    #[arg(long, global = true, env = "INVENTORY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Get a new access token and print it.
    Token,
    /// List the items (needs inventory:read).
    List,
    /// Add an item (needs inventory:write).
    Add {
        name: String,
        /// Sent as given: the API refuses anything but 0 to 1,000,000.
        #[arg(allow_negative_numbers = true)]
        quantity: i64,
    },
    /// Call GET /items every second with one token and print each answer's status.
    Watch {
        /// Seconds between calls.
        #[arg(long, default_value_t = 1)]
        every: u64,
    },
}

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args")
            .field("issuer", &self.issuer)
            .field("api", &self.api)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("cmd", &self.cmd)
            .finish_non_exhaustive()
    }
}

/// An item as the API shows it.
#[derive(Debug, Deserialize)]
struct Item {
    id: u64,
    name: String,
    quantity: u32,
    added_by: String,
}

/// An RFC 6749-style error body, as the API and its guard send.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: String,
    error_description: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    match run(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("inventory-client: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where tokens come from.
enum Auth {
    /// `--token`: sent as it is.
    Fixed(String),
    /// Client credentials through tessera-client.
    Source(TokenSource),
}

impl Args {
    fn token_source(&self) -> Result<TokenSource, String> {
        let secret = self
            .client_secret
            .clone()
            .ok_or("no client secret: set INVENTORY_APP_SECRET (or pass --client-secret, or --token)")?;
        let resource = self.resource.clone().unwrap_or_else(|| self.api.trim_end_matches('/').to_string());
        TokenSource::client_credentials(&self.issuer, ClientAuth::basic(&self.client_id, secret))
            .scopes(self.scope.split_whitespace())
            .resource(resource)
            .build()
            .map_err(|e| e.to_string())
    }

    fn auth(&self) -> Result<Auth, String> {
        match &self.token {
            Some(t) => Ok(Auth::Fixed(t.trim().to_string())),
            None => self.token_source().map(Auth::Source),
        }
    }

    fn items_url(&self) -> String {
        format!("{}/items", self.api.trim_end_matches('/'))
    }
}

async fn run(args: Args) -> Result<ExitCode, String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    match &args.cmd {
        Cmd::Token => {
            let token = args.token_source()?.token().await.map_err(|e| e.to_string())?;
            println!("{}", token.secret());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::List => {
            let resp = send(&args.auth()?, &http, Method::GET, &args.items_url(), None).await?;
            if !resp.status().is_success() {
                eprintln!("{}", refusal(resp).await);
                return Ok(ExitCode::FAILURE);
            }
            let items: Vec<Item> = resp.json().await.map_err(|e| format!("unexpected answer: {e}"))?;
            if items.is_empty() {
                println!("no items");
            }
            for i in items {
                println!("#{:<4} {:<24} {:>8}   added by {}", i.id, i.name, i.quantity, i.added_by);
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Add { name, quantity } => {
            let body = serde_json::json!({ "name": name, "quantity": quantity });
            let resp = send(&args.auth()?, &http, Method::POST, &args.items_url(), Some(&body)).await?;
            if !resp.status().is_success() {
                eprintln!("{}", refusal(resp).await);
                return Ok(ExitCode::FAILURE);
            }
            let i: Item = resp.json().await.map_err(|e| format!("unexpected answer: {e}"))?;
            println!("added #{} {} ({})", i.id, i.name, i.quantity);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Watch { every } => {
            watch(&args.auth()?, &http, &args.items_url(), Duration::from_secs((*every).max(1))).await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn send(
    auth: &Auth,
    http: &reqwest::Client,
    method: Method,
    url: &str,
    json: Option<&serde_json::Value>,
) -> Result<Response, String> {
    match auth {
        Auth::Fixed(token) => {
            let mut req = http.request(method, url).bearer_auth(token);
            if let Some(j) = json {
                req = req.json(j);
            }
            req.send().await.map_err(|e| format!("{url}: {e}"))
        }
        Auth::Source(source) => {
            let mut req = AuthorizedClient::new(http.clone(), source.clone()).request(method, url);
            if let Some(j) = json {
                req = req.json(j);
            }
            req.send().await.map_err(|e| format!("{url}: {e}"))
        }
    }
}

/// Until Ctrl-C: one `GET` per tick with the current token and no retry
/// on 401, so a revoked token shows as refused rather than replaced.
async fn watch(auth: &Auth, http: &reqwest::Client, url: &str, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = tokio::signal::ctrl_c() => return,
        }
        let token = match auth {
            Auth::Fixed(t) => t.clone(),
            Auth::Source(s) => match s.token().await {
                Ok(t) => t.secret().to_string(),
                Err(e) => {
                    println!("no token: {e}");
                    continue;
                }
            },
        };
        let line = match http.get(url).bearer_auth(&token).send().await {
            Ok(resp) if resp.status().is_success() => {
                let status = resp.status();
                match resp.json::<Vec<Item>>().await {
                    Ok(items) => format!("{} {} items", status_text(status), items.len()),
                    Err(e) => format!("{} but unexpected answer: {e}", status_text(status)),
                }
            }
            Ok(resp) => refusal(resp).await,
            Err(e) => format!("error: {e}"),
        };
        println!("{line}");
    }
}

fn status_text(s: StatusCode) -> String {
    format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or(""))
}

/// `401 invalid_token: the access token was revoked`: the status and the
/// error from `WWW-Authenticate` (RFC 6750 §3), else from the JSON body.
async fn refusal(resp: Response) -> String {
    let status = resp.status();
    let challenge = resp.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).and_then(bearer_params);
    let param = |name: &str| challenge.as_ref().and_then(|p| p.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()));
    let (mut error, mut description) = (param("error"), param("error_description"));
    if error.is_none()
        && let Ok(body) = resp.json::<ErrorBody>().await
    {
        error = Some(body.error);
        description = body.error_description;
    }
    match (error, description) {
        (Some(e), Some(d)) => format!("{} {e}: {d}", status.as_u16()),
        (Some(e), None) => format!("{} {e}", status.as_u16()),
        (None, _) => status_text(status),
    }
}

/// The auth-params of a `Bearer` challenge (RFC 9110 §11.2), names in
/// lowercase; `None` for another scheme.
fn bearer_params(header: &str) -> Option<Vec<(String, String)>> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && *c != ',' && !c.is_whitespace()) {
            name.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if name.is_empty() || chars.next_if_eq(&'=').is_none() {
            break;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',' && !c.is_whitespace()) {
                value.push(c);
            }
        }
        out.push((name.to_ascii_lowercase(), value));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
        p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn parses_bearer_challenges() {
        let h = r#"Bearer realm="http://127.0.0.1:8081", error="invalid_token", error_description="the access token was revoked", resource_metadata="http://127.0.0.1:8081/.well-known/oauth-protected-resource""#;
        let p = bearer_params(h).unwrap();
        assert_eq!(get(&p, "realm"), Some("http://127.0.0.1:8081"));
        assert_eq!(get(&p, "error"), Some("invalid_token"));
        assert_eq!(get(&p, "error_description"), Some("the access token was revoked"));

        let p = bearer_params(r#"bearer Error=insufficient_scope,scope="a b", realm="in\"v""#).unwrap();
        assert_eq!(get(&p, "error"), Some("insufficient_scope"));
        assert_eq!(get(&p, "scope"), Some("a b"));
        assert_eq!(get(&p, "realm"), Some("in\"v"));

        assert_eq!(bearer_params("Bearer").unwrap(), vec![]);
        assert!(bearer_params("Basic realm=\"x\"").is_none());
        // Malformed input ends the parse, never loops.
        assert_eq!(bearer_params("Bearer =x, realm").unwrap(), vec![]);
        assert_eq!(get(&bearer_params(r#"Bearer error="unterminated"#).unwrap(), "error"), Some("unterminated"));
    }
}
