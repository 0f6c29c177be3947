//! `GET /oauth2/revocations?after=SEQ[&wait=S][&limit=N]`: the revocation
//! feed, with long-polling. An answer comes at once when there are entries
//! after `after`; otherwise the request waits up to `wait` seconds (at most
//! [`MAX_WAIT`]) for the next revocation recorded by this process or seen
//! from another, and answers with it or with an empty page.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use tessera_core::OAuthError;
use tessera_core::endpoint::revocation_feed::MAX_FEED_PAGE;
use tessera_core::params::Params;
use tessera_core::params::printable;

use super::AppState;
use super::error::ApiError;
use super::oauth::no_store;
use super::rate_limit::Caller;

/// Longer waits would outlast common proxy idle timeouts (60 s).
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// Public for the fuzz harness (`tessera-fuzz`), not API.
#[doc(hidden)]
#[derive(Debug, PartialEq, Eq)]
pub struct FeedQuery {
    pub after: i64,
    pub limit: u32,
    pub wait: Duration,
}

#[doc(hidden)]
pub fn parse_query(query: Option<&str>) -> Result<FeedQuery, OAuthError> {
    let mut q = FeedQuery { after: 0, limit: 1_000, wait: Duration::ZERO };
    let mut seen = Vec::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if seen.contains(&k) {
            return Err(OAuthError::invalid_request(format!("parameter {} is repeated", printable(&k))));
        }
        let number = |max: u64| {
            v.parse::<u64>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| OAuthError::invalid_request(format!("{k} must be a whole number from 0 to {max}")))
        };
        match k.as_ref() {
            "after" => q.after = number(i64::MAX as u64)? as i64,
            "limit" => q.limit = number(u64::from(MAX_FEED_PAGE))?.max(1) as u32,
            "wait" => q.wait = Duration::from_secs(number(MAX_WAIT.as_secs())?),
            "client_id" | "client_secret" => {
                return Err(OAuthError::invalid_request("client credentials are never accepted in the URL"));
            }
            _ => {}
        }
        seen.push(k);
    }
    Ok(q)
}

pub async fn revocations(
    State(s): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    uri: Uri,
) -> Result<Response, ApiError> {
    let q = parse_query(uri.query())?;
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let caller = Caller::from_parts(&s, &ext, authorization, &Params::default()).await;
    if let Err(l) = caller.admit(&s.limits) {
        return Ok(l.into_response());
    }
    let reader = s.authority.authorize_feed_reader(&caller.call);
    caller.settle(&s.limits, reader.as_ref().err());
    reader?;
    let deadline = tokio::time::Instant::now() + q.wait;
    let mut head = s.authority.feed_watch();
    let mut stopping = s.shutdown.subscribe();
    loop {
        // Marked seen before reading, so a revocation that lands between the
        // read and the wait still wakes us.
        head.head();
        let feed = s.authority.revocation_feed(q.after, q.limit).await?;
        let idle = feed.revocations.is_empty() && feed.head >= q.after;
        if !idle || tokio::time::Instant::now() >= deadline || *stopping.borrow() {
            return Ok(no_store(Json(feed)));
        }
        tokio::select! {
            _ = head.changed() => {}
            _ = stopping.changed() => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_checked() {
        assert_eq!(parse_query(None).unwrap(), FeedQuery { after: 0, limit: 1_000, wait: Duration::ZERO });
        let q = parse_query(Some("after=42&wait=30&limit=5")).unwrap();
        assert_eq!(q, FeedQuery { after: 42, limit: 5, wait: Duration::from_secs(30) });
        for bad in ["after=-1", "after=x", "wait=31", "limit=10001", "after=1&after=2", "client_secret=s", "wait="] {
            assert!(parse_query(Some(bad)).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn errors_do_not_echo_raw_names() {
        // Caught by the feed_query fuzz harness: the name was echoed as sent,
        // so a request could put line breaks and kilobytes into the answer
        // and the log line.
        let long = "k".repeat(5_000);
        for q in ["%0d%0aforged%3A+1=1&%0d%0aforged%3A+1=2", "%1b%5b31m=1&%1b%5b31m=2", &format!("{long}=1&{long}=2")] {
            let d = parse_query(Some(q)).err().map(|e| e.description).unwrap_or_default();
            assert!(!d.is_empty() && d.len() < 200 && !d.chars().any(char::is_control), "{q:.20}: {d:.80}");
        }
    }
}
