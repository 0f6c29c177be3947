//! Bounded retries with exponential backoff and full jitter.
//!
//! Full jitter (a delay drawn uniformly from `[0, min(cap, base·2ⁿ)]`) spreads
//! a fleet of clients that all failed at once, so they do not come back in
//! lockstep and knock the server over again.

use std::future::Future;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::error::{Error, Result};

/// How often and how patiently to retry a transient failure
/// ([`Error::is_transient`]): connection errors, 408, 429, 5xx,
/// `temporarily_unavailable`, `slow_down`, `server_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; `0` counts as `1`.
    pub max_attempts: u32,
    /// Ceiling of the first backoff; it doubles per retry up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Ceiling of any backoff, a server's `Retry-After` included.
    pub max_backoff: Duration,
    /// Deadline of one HTTP attempt, connection and body included.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, backoff ceilings 250 ms, 500 ms, 1 s (at most 5 s), 10 s per attempt.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(10),
        }
    }
}

/// One failed attempt, with the server's `Retry-After` if it sent one.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: Error,
    pub(crate) retry_after: Option<Duration>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self { error, retry_after: None }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn no_retries() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// The pause before retry number `retry` (1 for the first retry).
    pub(crate) fn backoff(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exp = 2u32.saturating_pow(retry.saturating_sub(1));
        let ceiling = self.initial_backoff.saturating_mul(exp).min(self.max_backoff);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        let jittered = Duration::from_nanos(fastrand::u64(0..=nanos));
        // A server that says when to come back knows better than a dice roll,
        // but it may not hold a caller longer than `max_backoff`.
        match retry_after {
            Some(after) => jittered.max(after.min(self.max_backoff)),
            None => jittered,
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or attempts run out;
    /// returns the last error then.
    pub(crate) async fn run<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let max = self.max_attempts.max(1);
        let mut n = 1;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(f) if n < max && f.error.is_transient() => {
                    let pause = self.backoff(n, f.retry_after);
                    tracing::warn!(what, attempt = n, max, ?pause, error = %f.error, "transient failure, retrying");
                    tokio::time::sleep(pause).await;
                    n += 1;
                }
                Err(f) => return Err(f.error),
            }
        }
    }
}

/// `Retry-After` in its delta-seconds form (RFC 9110 §10.2.3); dates are ignored.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            attempt_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_capped_ceiling() {
        let p = policy();
        for (retry, ceiling) in [(1, 100), (2, 200), (3, 350), (10, 350), (u32::MAX, 350)] {
            let samples: Vec<_> = (0..500).map(|_| p.backoff(retry, None)).collect();
            let max = samples.iter().copied().max().unwrap_or_default();
            let min = samples.iter().copied().min().unwrap_or_default();
            assert!(max <= Duration::from_millis(ceiling), "retry {retry}: {max:?}");
            // Full jitter: draws spread over the whole range, down to near zero.
            assert!(max > Duration::from_millis(ceiling / 2), "retry {retry}: {max:?}");
            assert!(min < Duration::from_millis(ceiling / 4), "retry {retry}: {min:?}");
        }
    }

    #[test]
    fn retry_after_is_a_floor_capped_by_max_backoff() {
        let p = policy();
        assert!(p.backoff(1, Some(Duration::from_millis(300))) >= Duration::from_millis(300));
        assert_eq!(p.backoff(1, Some(Duration::from_secs(3600))), Duration::from_millis(350));
    }

    #[test]
    fn parses_delta_seconds_only() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, reqwest::header::HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(RETRY_AFTER, reqwest::header::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), None);
    }

    fn transient() -> Failure {
        Error::UnexpectedStatus { status: reqwest::StatusCode::SERVICE_UNAVAILABLE, body: String::new() }.into()
    }

    #[tokio::test]
    async fn stops_after_max_attempts_and_on_fatal_errors() {
        let p = RetryPolicy {
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            ..policy()
        };
        let calls = AtomicU32::new(0);
        let r: Result<()> = p
            .run("test", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(transient())
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        let calls = AtomicU32::new(0);
        let r: Result<()> = p
            .run("test", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::Config("fatal".into()).into())
            })
            .await;
        assert!(matches!(r, Err(Error::Config(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = AtomicU32::new(0);
        let r = p
            .run("test", || async { if calls.fetch_add(1, Ordering::SeqCst) < 2 { Err(transient()) } else { Ok(7) } })
            .await;
        assert_eq!(r.ok(), Some(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
