//! Time as an injected dependency, so tests can expire tokens without sleeping.

use std::time::Instant;

/// A monotonic clock. Token expiry and early refresh are judged by it;
/// backoff sleeps use `tokio::time` and are short.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Instant;
}

/// The real clock: [`Instant::now`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}
