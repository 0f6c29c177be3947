//! Per-node rate limits (GCRA, `governor`): failed client authentication
//! per `client_id` and per address, the unauthenticated browser and device
//! endpoints per address, introspection per client, and an optional
//! issuance limit per client (`client create|update --rate-limit`). Over a
//! limit: 429 with `Retry-After` (RFC 6585 §4, RFC 9110 §10.2.3) and an
//! RFC 6749 §5.2 body, or an error page in the browser.
//!
//! Memory is bounded: client keys exist only for registered clients,
//! addresses are keyed per IPv6 /64, [`Limits::upkeep`] forgets keys whose
//! budget is full again, and past [`MAX_KEYS`] new keys share one.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{Extensions, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use tessera_core::OAuthError;
use tessera_core::client::Client;
use tessera_core::client_auth::ClientCall;
use tessera_core::ids::ClientId;
use tessera_proto::{ErrorCode, ErrorResponse};

use super::AppState;
use super::client_addr::ClientAddr;
use super::request::OAuthRequest;
use crate::config::{Rate, RateLimits};

/// Keys one limiter holds before new keys share one bucket (a flood of
/// addresses then throttles only itself and newcomers until the next upkeep).
pub const MAX_KEYS: usize = 100_000;

/// How often [`Limits::upkeep`] runs (from the background task).
pub const UPKEEP_EVERY: Duration = Duration::from_secs(10);

fn quota(r: Rate) -> Quota {
    let period = r.per / r.count.get();
    Quota::with_period(period.max(Duration::from_nanos(1))).unwrap_or(Quota::per_second(r.count)).allow_burst(r.count)
}

/// The key of a client address: per IPv4 address and per IPv6 /64 (one
/// subscriber's prefix: rotating within it gains nothing). `None` for
/// loopback: this machine's own traffic (health checks, benchmarks, a local
/// proxy not declared with `--trusted-proxy`) is not limited per address.
pub fn addr_key(ip: IpAddr) -> Option<IpAddr> {
    if ip.is_loopback() {
        return None;
    }
    Some(match ip {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & 0xffff_ffff_ffff_ffff_0000_0000_0000_0000)),
        v4 => v4,
    })
}

/// A keyed limiter, plus the keys it has refused until a given time, so a
/// limit that counts only failures can be checked before the work without
/// being charged for it.
struct Gate<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    blocked: RwLock<HashMap<K, Instant>>,
    overflow: K,
}

impl<K: Hash + Eq + Clone> Gate<K> {
    fn new(rate: Rate, overflow: K) -> Self {
        Self { limiter: DefaultKeyedRateLimiter::keyed(quota(rate)), blocked: RwLock::default(), overflow }
    }

    fn key<'a>(&'a self, k: &'a K) -> &'a K {
        if self.limiter.len() >= MAX_KEYS { &self.overflow } else { k }
    }

    /// Spends one request; `Err(wait)` when over the limit.
    fn check(&self, k: &K) -> Result<(), Duration> {
        let clock = self.limiter.clock();
        self.limiter.check_key(self.key(k)).map_err(|nu| nu.wait_time_from(clock.now()))
    }

    /// How long `k` is still refused, if it is.
    fn blocked(&self, k: &K) -> Option<Duration> {
        let blocked = self.blocked.read().ok()?;
        if blocked.is_empty() {
            return None;
        }
        let until = match blocked.get(k) {
            Some(u) => u,
            // While the key space is full, new keys are charged to the shared one.
            None if self.limiter.len() >= MAX_KEYS => blocked.get(&self.overflow)?,
            None => return None,
        };
        until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())
    }

    /// Charges one failure; past the limit, `k` is refused until its budget allows one more.
    fn charge(&self, k: &K) {
        if let Err(wait) = self.check(k)
            && let Ok(mut blocked) = self.blocked.write()
        {
            blocked.insert(self.key(k).clone(), Instant::now() + wait);
        }
    }

    fn upkeep(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        if let Ok(mut blocked) = self.blocked.write() {
            let now = Instant::now();
            blocked.retain(|_, until| *until > now);
        }
    }
}

/// One client's issuance limit: its rate (to notice a change) and bucket.
struct Issuance {
    rate: tessera_core::client::RateLimit,
    limiter: DefaultDirectRateLimiter,
}

/// The limits of one node.
pub struct Limits {
    auth_failures: Option<Gate<ClientId>>,
    auth_failures_per_address: Option<Gate<IpAddr>>,
    unauthenticated: Option<Gate<IpAddr>>,
    introspection: Option<Gate<ClientId>>,
    /// One entry per registered client with `--rate-limit`, no more.
    issuance: Mutex<HashMap<ClientId, Issuance>>,
}

impl Limits {
    pub fn new(r: &RateLimits) -> Self {
        let unspecified = IpAddr::from([0u8; 4]);
        Self {
            // The shared key: no registered client has the empty id.
            auth_failures: r.auth_failures.map(|r| Gate::new(r, ClientId::from(""))),
            auth_failures_per_address: r.auth_failures_per_address.map(|r| Gate::new(r, unspecified)),
            unauthenticated: r.unauthenticated.map(|r| Gate::new(r, unspecified)),
            introspection: r.introspection.map(|r| Gate::new(r, ClientId::from(""))),
            issuance: Mutex::default(),
        }
    }

    /// Forgets keys whose budget is full again; from the background task.
    pub fn upkeep(&self) {
        for g in [&self.auth_failures, &self.introspection].into_iter().flatten() {
            g.upkeep();
        }
        for g in [&self.auth_failures_per_address, &self.unauthenticated].into_iter().flatten() {
            g.upkeep();
        }
    }
}

/// Who is calling an endpoint that authenticates clients: its credentials
/// as read once for the limits and the endpoint (the registered client they
/// name, if any), and its address.
pub struct Caller {
    pub call: ClientCall,
    addr: Option<IpAddr>,
}

impl Caller {
    pub async fn of(s: &AppState, ext: &Extensions, req: &OAuthRequest) -> Self {
        Self::from_parts(s, ext, req.authorization(), &req.params).await
    }

    pub async fn from_parts(
        s: &AppState,
        ext: &Extensions,
        authorization: Option<&str>,
        params: &tessera_core::params::Params,
    ) -> Self {
        // Only registered clients get a key of their own: random ids cannot grow the maps.
        let call = s.authority.client_call(authorization, params).await;
        Self { call, addr: ClientAddr::of(ext).and_then(addr_key) }
    }

    /// The registered client the credentials name, not yet authenticated.
    pub fn client(&self) -> Option<&Client> {
        self.call.named_client().map(|c| c.as_ref())
    }

    /// Before authenticating: refused while this client id or address is
    /// over its failed-authentication budget.
    pub fn admit(&self, l: &Limits) -> Result<(), Limited> {
        let by_id = l.auth_failures.as_ref().zip(self.client()).and_then(|(g, c)| g.blocked(&c.id));
        let by_addr = l.auth_failures_per_address.as_ref().zip(self.addr).and_then(|(g, a)| g.blocked(&a));
        match by_id.max(by_addr) {
            Some(wait) => Err(Limited { wait, what: "too many failed client authentications" }),
            None => Ok(()),
        }
    }

    /// After the endpoint answered: charges a failed authentication.
    pub fn settle(&self, l: &Limits, error: Option<&OAuthError>) {
        if error.is_none_or(|e| e.code != ErrorCode::InvalidClient) {
            return;
        }
        if let (Some(g), Some(c)) = (&l.auth_failures, self.client()) {
            g.charge(&c.id);
        }
        if let (Some(g), Some(a)) = (&l.auth_failures_per_address, self.addr) {
            g.charge(&a);
        }
    }

    /// Introspection per client: spends one request of the caller's budget.
    pub fn introspect(&self, l: &Limits) -> Result<(), Limited> {
        match (&l.introspection, self.client()) {
            (Some(g), Some(c)) => {
                g.check(&c.id).map_err(|wait| Limited { wait, what: "too many introspection requests" })
            }
            _ => Ok(()),
        }
    }

    /// Token endpoint, for a client registered with `--rate-limit`: its
    /// credentials are checked first, so only requests that authenticate
    /// as the client spend its budget (a stranger with a wrong secret
    /// cannot use it up); they are then checked again by the grant as usual.
    pub fn issuance(&self, s: &AppState) -> Result<(), Limited> {
        let Some(c) = self.client() else { return Ok(()) };
        let Some(rate) = c.settings.rate_limit else { return Ok(()) };
        let Some(r) = Rate::from_client(rate) else { return Ok(()) };
        if self.call.authenticate().is_err() {
            return Ok(());
        }
        let Ok(mut m) = s.limits.issuance.lock() else { return Ok(()) };
        let fresh = || Issuance { rate, limiter: DefaultDirectRateLimiter::direct(quota(r)) };
        let i = m.entry(c.id.clone()).or_insert_with(fresh);
        if i.rate != rate {
            *i = fresh();
        }
        let clock = i.limiter.clock();
        i.limiter.check().map_err(|nu| Limited {
            wait: nu.wait_time_from(clock.now()),
            what: "this client's token request limit is reached",
        })
    }
}

/// A refusal by a limit: how long until it allows one more, and which limit.
#[derive(Debug)]
pub struct Limited {
    pub wait: Duration,
    pub what: &'static str,
}

impl IntoResponse for Limited {
    fn into_response(self) -> Response {
        too_many(self.wait, self.what)
    }
}

/// Middleware for the endpoints anyone may call (authorize, sign-in,
/// consent, the device page and device authorization): a budget per address.
pub async fn per_address(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if let (Some(g), Some(key)) = (&s.limits.unauthenticated, ClientAddr::of(req.extensions()).and_then(addr_key))
        && let Err(wait) = g.check(&key)
    {
        let what = "too many requests from this address";
        return if req.uri().path().starts_with("/oauth2/device_authorization") {
            too_many(wait, what)
        } else {
            too_many_page(&s, wait)
        };
    }
    next.run(req).await
}

fn retry_after(wait: Duration) -> (u64, HeaderValue) {
    // Whole seconds, rounded up: a client retrying at once would be refused again.
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    (secs, HeaderValue::from(secs))
}

/// 429 with `Retry-After` and an RFC 6749 §5.2 body. The code is
/// `temporarily_unavailable`: RFC 6749 defines no code for this, and that is
/// the one clients already treat as "try again later" (a new code would be
/// unknown to them).
pub fn too_many(wait: Duration, what: &str) -> Response {
    let (secs, v) = retry_after(wait);
    let body = ErrorResponse {
        error: ErrorCode::TemporarilyUnavailable,
        error_description: Some(format!("{what}: retry after {secs} s")),
    };
    let mut r = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    let h = r.headers_mut();
    h.insert(header::RETRY_AFTER, v);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// 429 as an error page, for the browser.
pub fn too_many_page(s: &AppState, wait: Duration) -> Response {
    let (secs, v) = retry_after(wait);
    let e = OAuthError::new(
        ErrorCode::TemporarilyUnavailable,
        format!("Too many requests from your network. Try again in {secs} seconds."),
    );
    let mut r = super::pages::error_page(&s.authority.settings().issuer, &e);
    *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    r.headers_mut().insert(header::RETRY_AFTER, v);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    fn rate(n: u32, secs: u64) -> Rate {
        Rate { count: NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN), per: Duration::from_secs(secs) }
    }

    #[test]
    fn a_failure_gate_counts_only_what_is_charged() {
        let g = Gate::new(rate(3, 60), String::new());
        let k = "app".to_string();
        for _ in 0..3 {
            assert_eq!(g.blocked(&k), None);
            g.charge(&k);
        }
        assert_eq!(g.blocked(&k), None, "three failures fit in a budget of three");
        g.charge(&k);
        let wait = g.blocked(&k).unwrap_or_default();
        assert!(wait > Duration::from_secs(15) && wait <= Duration::from_secs(20), "{wait:?}");
        assert_eq!(g.blocked(&"other".to_string()), None);
    }

    #[test]
    fn ipv6_is_keyed_per_64() {
        let key = |s: &str| addr_key(s.parse().unwrap_or(IpAddr::from([0u8; 4])));
        let a = key("2001:db8:1:2:aaaa::1");
        assert!(a.is_some());
        assert_eq!(a, key("2001:db8:1:2:bbbb::9"));
        assert_ne!(a, key("2001:db8:1:3::1"));
        assert_eq!(key("192.0.2.1"), Some(IpAddr::from([192, 0, 2, 1])));
        assert_eq!(key("127.0.0.2"), None);
        assert_eq!(key("::1"), None);
    }

    #[test]
    fn the_key_space_is_capped() {
        let g = Gate::new(rate(1, 3600), IpAddr::from([0u8; 4]));
        for i in 0..(MAX_KEYS as u32 + 10) {
            let _ = g.check(&IpAddr::from(i.to_be_bytes()));
        }
        assert!(g.limiter.len() <= MAX_KEYS + 1, "{}", g.limiter.len());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after(Duration::from_millis(1)).0, 1);
        assert_eq!(retry_after(Duration::from_millis(2001)).0, 3);
        assert_eq!(retry_after(Duration::ZERO).0, 1);
    }
}
