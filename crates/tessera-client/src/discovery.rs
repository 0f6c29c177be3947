//! Authorization server metadata discovery (RFC 8414 §3).

use std::net::IpAddr;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderValue};
use serde::Deserialize;
use tessera_proto::AuthorizationServerMetadata;
use url::Url;

use crate::error::{Error, Result};
use crate::exchange::{error_from_response, read_body};
use crate::retry::{Failure, RetryPolicy};

/// RFC 8414 §3, registered in §7.3.
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-authorization-server";

/// Largest metadata document read; Tessera's is about 2 KiB.
const MAX_METADATA_BYTES: usize = 256 * 1024;

/// The two fields the token source needs; parsing only these keeps it
/// working against servers that leave out optional-in-practice fields.
#[derive(Deserialize)]
struct Minimal {
    issuer: String,
    token_endpoint: String,
}

/// Fetches and checks the metadata of `issuer`: one try per candidate URL,
/// no retries. [`crate::TokenSource`] does this itself; this is for callers
/// that want the other endpoints. The issuer must be `https` or loopback.
pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<AuthorizationServerMetadata> {
    let issuer = parse_issuer(issuer, false)?;
    let body = fetch(http, &issuer, RetryPolicy::default().attempt_timeout).await.map_err(|f| f.error)?;
    serde_json::from_slice(&body).map_err(|e| Error::Discovery(format!("malformed metadata: {e}")))
}

/// The token endpoint of `issuer`, with retries, checked like the issuer.
pub(crate) async fn token_endpoint(
    http: &reqwest::Client,
    issuer: &Url,
    retry: &RetryPolicy,
    allow_http: bool,
) -> Result<Url> {
    let body = retry.run("discovery", || fetch(http, issuer, retry.attempt_timeout)).await?;
    let m: Minimal = serde_json::from_slice(&body).map_err(|e| Error::Discovery(format!("malformed metadata: {e}")))?;
    let endpoint = Url::parse(&m.token_endpoint)
        .map_err(|e| Error::Discovery(format!("token_endpoint {:?} is not a URL: {e}", m.token_endpoint)))?;
    check_transport(&endpoint, allow_http).map_err(Error::Discovery)?;
    tracing::debug!(%issuer, token_endpoint = %endpoint, "discovered authorization server");
    Ok(endpoint)
}

/// One pass over the candidate URLs: the next is tried only after a 404.
async fn fetch(http: &reqwest::Client, issuer: &Url, timeout: Duration) -> Result<Vec<u8>, Failure> {
    let candidates = metadata_urls(issuer);
    let mut last_status = StatusCode::NOT_FOUND;
    for url in &candidates {
        let response = http
            .get(url.clone())
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .timeout(timeout)
            .send()
            .await
            .map_err(Error::transport)?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            last_status = status;
            continue;
        }
        if !status.is_success() {
            return Err(error_from_response(response).await);
        }
        let body = read_body(response, MAX_METADATA_BYTES).await?;
        let m: Minimal =
            serde_json::from_slice(&body).map_err(|e| Error::Discovery(format!("malformed metadata at {url}: {e}")))?;
        // RFC 8414 §3.3: the document must name the issuer we asked about,
        // or an attacker's metadata could point us at their token endpoint.
        if m.issuer.trim_end_matches('/') != issuer.as_str().trim_end_matches('/') {
            return Err(
                Error::Discovery(format!("metadata at {url} is for issuer {:?}, not {issuer}", m.issuer)).into()
            );
        }
        return Ok(body.to_vec());
    }
    Err(Error::Discovery(format!("no metadata for {issuer} ({last_status}) at {}", join(&candidates))).into())
}

fn join(urls: &[Url]) -> String {
    urls.iter().map(Url::as_str).collect::<Vec<_>>().join(" or ")
}

/// RFC 8414 §3.1 inserts the well-known segment between host and path
/// (`https://as/.well-known/oauth-authorization-server/tenant`). Many servers,
/// Tessera behind a path prefix among them, serve it appended to the issuer
/// instead (as OpenID Connect Discovery does): that is tried second.
pub(crate) fn metadata_urls(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let mut inserted = issuer.clone();
    inserted.set_path(&format!("{WELL_KNOWN_PATH}{path}"));
    let mut urls = vec![inserted];
    if !path.is_empty() {
        let mut appended = issuer.clone();
        appended.set_path(&format!("{path}{WELL_KNOWN_PATH}"));
        urls.push(appended);
    }
    urls
}

/// An issuer is an `https` URL without query or fragment (RFC 8414 §2).
pub(crate) fn parse_issuer(issuer: &str, allow_http: bool) -> Result<Url> {
    let url = Url::parse(issuer).map_err(|e| Error::Config(format!("issuer {issuer:?} is not a URL: {e}")))?;
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(Error::Config(format!("issuer {issuer:?} must not have a query, fragment or user info")));
    }
    check_transport(&url, allow_http).map_err(Error::Config)?;
    Ok(url)
}

/// OAuth 2.1 §1.5: credentials travel over TLS. Plain `http` is allowed on a
/// loopback address (as Tessera itself allows), or when the caller opts in.
pub(crate) fn check_transport(url: &Url, allow_http: bool) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(url) => Ok(()),
        "http" => Err(format!("{url} must use https: plain http is only allowed on a loopback address")),
        other => Err(format!("{url} has scheme {other:?}; use https")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(issuer: &str) -> Vec<String> {
        Url::parse(issuer).map(|u| metadata_urls(&u).iter().map(|u| u.to_string()).collect()).unwrap_or_default()
    }

    #[test]
    fn well_known_location() {
        assert_eq!(urls("https://as.example"), ["https://as.example/.well-known/oauth-authorization-server"]);
        assert_eq!(urls("https://as.example/"), ["https://as.example/.well-known/oauth-authorization-server"]);
        assert_eq!(
            urls("https://as.example/tenant/1"),
            [
                "https://as.example/.well-known/oauth-authorization-server/tenant/1",
                "https://as.example/tenant/1/.well-known/oauth-authorization-server"
            ]
        );
    }

    #[test]
    fn transport_policy() {
        for ok in ["https://as.example", "http://127.0.0.1:8080", "http://[::1]:1", "http://localhost"] {
            assert!(parse_issuer(ok, false).is_ok(), "{ok}");
        }
        for bad in ["http://as.example", "ftp://as.example", "https://as.example/?q=1", "https://u@as.example", "nope"]
        {
            assert!(matches!(parse_issuer(bad, false), Err(Error::Config(_))), "{bad}");
        }
        assert!(parse_issuer("http://as.internal", true).is_ok());
    }
}
