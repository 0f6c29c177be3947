//! [`TokenSource`]: one cached access token, refreshed ahead of expiry by a
//! single request however many tasks ask at once.
//!
//! The cache sits behind a `std` mutex held only for a few field reads, so
//! the common case (a fresh token) never awaits. A miss takes the async
//! *flight* lock; the holder fetches, the others queue on it and, when it
//! is their turn, take the outcome of the flight that ran while they waited
//! instead of starting their own. A counter (`generation`) tells them whether
//! one ran.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tessera_proto::{ErrorCode, TokenResponse};
use tokio::sync::OnceCell;
use url::Url;

use crate::auth::ClientAuth;
use crate::builder::TokenSourceBuilder;
use crate::clock::Clock;
use crate::discovery;
use crate::error::{Error, Result};
use crate::exchange::exchange;
use crate::grant::{Grant, GrantKind};
use crate::retry::RetryPolicy;
use crate::secret::{AccessToken, RefreshToken};

/// When a cached token counts as due for renewal.
///
/// A token is refreshed once less than `max(min, lifetime × percent / 100)`
/// of it remains, but never earlier than half-way through its life, so a
/// short-lived token is not fetched anew on every call. With the defaults
/// (30 s, 10 %) a 1-hour token is renewed 6 minutes early, a 5-minute token
/// 30 s early and a 20-second token 10 s early. The margin absorbs clock
/// drift, the request's own latency and a few failed attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshMargin {
    pub min: Duration,
    pub percent: u32,
}

impl Default for RefreshMargin {
    fn default() -> Self {
        Self { min: Duration::from_secs(30), percent: 10 }
    }
}

impl RefreshMargin {
    pub(crate) fn for_lifetime(&self, lifetime: Duration) -> Duration {
        let share = lifetime.saturating_mul(self.percent.min(100)) / 100;
        self.min.max(share).min(lifetime / 2)
    }
}

pub(crate) type RefreshHook = Arc<dyn Fn(&RefreshToken) + Send + Sync>;

/// Everything fixed when the source is built.
pub(crate) struct Config {
    pub(crate) http: reqwest::Client,
    pub(crate) issuer: Url,
    pub(crate) token_endpoint: Option<Url>,
    pub(crate) allow_http: bool,
    pub(crate) auth: ClientAuth,
    pub(crate) grant: GrantKind,
    pub(crate) refresh_token: Option<RefreshToken>,
    pub(crate) scopes: Vec<String>,
    pub(crate) resources: Vec<String>,
    pub(crate) retry: RetryPolicy,
    pub(crate) margin: RefreshMargin,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) on_refresh_token: Option<RefreshHook>,
}

/// A source of access tokens for one client: client credentials
/// (RFC 6749 §4.4) or a refresh token (§6).
///
/// Cheap to clone (clones share the cache) and `Send + Sync`. Needs a Tokio
/// runtime: token requests run on a spawned task, so a caller that gives up
/// cannot interrupt a refresh after the server rotated the refresh token but
/// before the new one was stored.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    endpoint: OnceCell<Url>,
    state: Mutex<State>,
    /// Held for the whole of a token request; see the module docs.
    flight: Arc<tokio::sync::Mutex<()>>,
    serial: AtomicU64,
}

struct State {
    cached: Option<Cached>,
    /// The only refresh token ever sent; replaced on each rotation.
    refresh_token: Option<RefreshToken>,
    /// Counts finished token requests.
    generation: u64,
    last_outcome: Option<Result<AccessToken>>,
    /// Set once the refresh token was refused: the source can never work again.
    dead: Option<Error>,
    /// After a transient failure, a still-valid token is served without
    /// asking again until then, so an outage does not cost every call a
    /// round of retries.
    quiet_until: Option<Instant>,
}

struct Cached {
    token: AccessToken,
    refresh_at: Instant,
}

enum Lookup {
    Hit(AccessToken),
    Fail(Error),
    Miss { generation: u64 },
}

impl TokenSource {
    /// A source for the client credentials grant (RFC 6749 §4.4): the client
    /// acts on its own behalf, so `auth` must carry a secret.
    pub fn client_credentials(issuer: impl Into<String>, auth: ClientAuth) -> TokenSourceBuilder {
        TokenSourceBuilder::new(issuer.into(), auth, GrantKind::ClientCredentials, None)
    }

    /// A source that spends `refresh_token` (RFC 6749 §6), for example one
    /// from an authorization code exchange. `auth` may be a public client.
    pub fn from_refresh_token(
        issuer: impl Into<String>,
        auth: ClientAuth,
        refresh_token: RefreshToken,
    ) -> TokenSourceBuilder {
        TokenSourceBuilder::new(issuer.into(), auth, GrantKind::RefreshToken, Some(refresh_token))
    }

    pub(crate) fn new(config: Config) -> Self {
        let state = State {
            cached: None,
            refresh_token: config.refresh_token.clone(),
            generation: 0,
            last_outcome: None,
            dead: None,
            quiet_until: None,
        };
        let endpoint = OnceCell::new_with(config.token_endpoint.clone());
        Self {
            inner: Arc::new(Inner {
                config,
                endpoint,
                state: Mutex::new(state),
                flight: Arc::new(tokio::sync::Mutex::new(())),
                serial: AtomicU64::new(1),
            }),
        }
    }

    /// A valid access token: the cached one, or a new one when it is missing
    /// or due (see [`RefreshMargin`]).
    ///
    /// Concurrent callers share one request and its outcome, error included.
    /// Transient failures are retried per [`RetryPolicy`]; if they persist
    /// while the cached token has not yet expired, that token is returned.
    /// OAuth errors such as `invalid_client` come back as
    /// [`Error::Rejected`] at once. `invalid_grant` on a refresh token
    /// retires the source: every later call returns that error unsent.
    pub async fn token(&self) -> Result<AccessToken> {
        let seen = match self.inner.lookup() {
            Lookup::Hit(token) => return Ok(token),
            Lookup::Fail(e) => return Err(e),
            Lookup::Miss { generation } => generation,
        };
        let guard = Arc::clone(&self.inner.flight).lock_owned().await;
        {
            let st = self.inner.state();
            if let Some(e) = &st.dead {
                return Err(e.clone());
            }
            if st.generation != seen
                && let Some(outcome) = &st.last_outcome
            {
                return outcome.clone();
            }
        }
        let inner = Arc::clone(&self.inner);
        let flight = tokio::spawn(async move {
            let outcome = inner.fly().await;
            drop(guard);
            outcome
        });
        flight.await.map_err(|e| Error::TaskFailed(e.to_string()))?
    }

    /// Drops the cached token so the next [`token`](Self::token) fetches a
    /// new one. Does not revive a source retired by `invalid_grant`.
    pub fn invalidate(&self) {
        let mut st = self.inner.state();
        st.cached = None;
        st.quiet_until = None;
    }

    /// Drops the cached token only if it is still `token`: after a 401, many
    /// requests made with the same rejected token cause one new token, not
    /// one each.
    pub fn invalidate_token(&self, token: &AccessToken) {
        let mut st = self.inner.state();
        if st.cached.as_ref().is_some_and(|c| c.token.serial() == token.serial()) {
            st.cached = None;
            st.quiet_until = None;
        }
    }

    /// The refresh token the next refresh will spend (the newest one), if this
    /// is a refresh-token source that is still usable.
    pub fn current_refresh_token(&self) -> Option<RefreshToken> {
        self.inner.state().refresh_token.clone()
    }

    /// The token endpoint, discovered from the issuer on first use (RFC 8414)
    /// unless it was configured.
    pub async fn token_endpoint(&self) -> Result<Url> {
        self.inner.endpoint().await.cloned()
    }

    pub fn issuer(&self) -> &Url {
        &self.inner.config.issuer
    }

    pub fn client_id(&self) -> &str {
        self.inner.config.auth.client_id()
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        // The lock guards plain data updated in one step: a panic elsewhere
        // cannot leave it half-written, so a poisoned lock is still sound.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Discovered once; a failed discovery is tried again on the next call.
    async fn endpoint(&self) -> Result<&Url> {
        let c = &self.config;
        self.endpoint.get_or_try_init(|| discovery::token_endpoint(&c.http, &c.issuer, &c.retry, c.allow_http)).await
    }

    fn lookup(&self) -> Lookup {
        let now = self.config.clock.now();
        let st = self.state();
        if let Some(e) = &st.dead {
            return Lookup::Fail(e.clone());
        }
        if let Some(c) = &st.cached {
            let quiet = st.quiet_until.is_some_and(|q| now < q) && now < c.token.expires_at();
            if now < c.refresh_at || quiet {
                return Lookup::Hit(c.token.clone());
            }
        }
        Lookup::Miss { generation: st.generation }
    }

    /// One token request with its retries, and its outcome recorded for the
    /// callers queued behind it. Runs with the flight lock held.
    async fn fly(&self) -> Result<AccessToken> {
        let fetched = self.fetch().await;
        let now = self.config.clock.now();
        let mut rotated = None;
        let outcome = {
            let mut st = self.state();
            let outcome = match fetched {
                Ok((token, refresh_at, new_refresh_token)) => {
                    st.cached = Some(Cached { token: token.clone(), refresh_at });
                    st.quiet_until = None;
                    if let Some(rt) = new_refresh_token {
                        st.refresh_token = Some(rt.clone());
                        rotated = Some(rt);
                    }
                    Ok(token)
                }
                Err(e) if e.is_transient() => {
                    match st.cached.as_ref().map(|c| c.token.clone()).filter(|t| now < t.expires_at()) {
                        Some(token) => {
                            tracing::warn!(error = %e, "token refresh failed; using the cached token until it expires");
                            let pause = self.config.retry.max_backoff.max(Duration::from_secs(1));
                            st.quiet_until = now.checked_add(pause);
                            Ok(token)
                        }
                        None => Err(e),
                    }
                }
                Err(e) => {
                    // RFC 6749 §5.2: the refresh token is invalid, expired or
                    // revoked. Asking again with it can only fail, or with
                    // Tessera look like token theft and revoke the family.
                    if self.config.grant == GrantKind::RefreshToken && e.oauth_code() == Some(ErrorCode::InvalidGrant) {
                        tracing::warn!(error = %e, "refresh token refused; this token source is now unusable");
                        st.dead = Some(e.clone());
                        st.cached = None;
                        st.refresh_token = None;
                    }
                    Err(e)
                }
            };
            st.generation = st.generation.wrapping_add(1);
            st.last_outcome = Some(outcome.clone());
            outcome
        };
        // Outside the state lock, so the hook may call back into the source;
        // inside the flight, so hooks run one at a time and in order.
        if let (Some(hook), Some(rt)) = (&self.config.on_refresh_token, rotated) {
            hook(&rt);
        }
        outcome
    }

    /// Discovery (once), then the token request with retries.
    async fn fetch(&self) -> Result<(AccessToken, Instant, Option<RefreshToken>)> {
        let c = &self.config;
        let endpoint = self.endpoint().await?;
        let spent = match c.grant {
            GrantKind::ClientCredentials => None,
            GrantKind::RefreshToken => Some(
                self.state().refresh_token.clone().ok_or_else(|| Error::Config("no refresh token to spend".into()))?,
            ),
        };
        let grant = match &spent {
            Some(rt) => Grant::RefreshToken(rt),
            None => Grant::ClientCredentials,
        };
        let form = grant.form(&c.scopes, &c.resources);
        // A retried refresh re-sends the same refresh token. That is safe with
        // Tessera, which answers a repeat within its grace window with the same
        // successor pair instead of treating it as replay (RFC 9700 §4.14.2).
        let (response, sent_at) = c
            .retry
            .run("token request", || async {
                let sent_at = c.clock.now();
                exchange(&c.http, endpoint, &c.auth, &form, c.retry.attempt_timeout).await.map(|r| (r, sent_at))
            })
            .await?;
        let TokenResponse { access_token, token_type, expires_in, scope, refresh_token, .. } = response;
        let lifetime = Duration::from_secs(expires_in);
        let scope = scope.or_else(|| (!c.scopes.is_empty()).then(|| c.scopes.join(" ")));
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let token = AccessToken::new(access_token, token_type, scope, sent_at, lifetime, serial);
        let refresh_at = token.expires_at().checked_sub(c.margin.for_lifetime(lifetime)).unwrap_or(sent_at);
        tracing::debug!(client_id = c.auth.client_id(), ?lifetime, "fetched access token");
        // RFC 6749 §6: a server may rotate the refresh token; if it does not,
        // the old one stays valid. §4.4.3: none comes with client credentials.
        let rotated = match c.grant {
            GrantKind::RefreshToken => refresh_token.map(RefreshToken::new),
            GrantKind::ClientCredentials => None,
        };
        Ok((token, refresh_at, rotated))
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.inner.config;
        f.debug_struct("TokenSource")
            .field("issuer", &c.issuer.as_str())
            .field("grant", &c.grant)
            .field("auth", &c.auth)
            .field("scopes", &c.scopes)
            .field("resources", &c.resources)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_examples() {
        let m = RefreshMargin::default();
        let s = Duration::from_secs;
        assert_eq!(m.for_lifetime(s(3600)), s(360));
        assert_eq!(m.for_lifetime(s(300)), s(30));
        assert_eq!(m.for_lifetime(s(100)), s(30));
        assert_eq!(m.for_lifetime(s(20)), s(10));
        assert_eq!(m.for_lifetime(s(0)), s(0));
        let all = RefreshMargin { min: s(0), percent: 500 };
        assert_eq!(all.for_lifetime(s(100)), s(50));
    }

    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn source_is_send_sync_clone() {
        assert_send_sync::<TokenSource>();
        assert_send_sync::<AccessToken>();
    }
}
