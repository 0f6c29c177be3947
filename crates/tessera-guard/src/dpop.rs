//! DPoP-bound access tokens at the resource (RFC 9449 §7): the
//! `Authorization: DPoP <token>` scheme, the proof each request carries,
//! its replay cache and optional server nonces.
//!
//! A bound token (`cnf.jkt`) is accepted only with the DPoP scheme and a
//! proof signed by its key for this request: `htm` the request method, `htu`
//! the configured resource URL joined with the request path (never `Host`),
//! `ath` the token's hash. The token's signature is checked once (the
//! verified-token cache); the proof on every request.

use std::time::Duration;

use tessera_pop::dpop::{DpopAlg, DpopError, Expectation, IatWindow, NonceRule, TargetUri, verify_proof};
use tessera_pop::nonce::NonceIssuer;
use tessera_pop::replay::MemoryReplayCache;

use crate::GuardError;
use crate::authenticated::Authenticated;
use crate::guard::Guard;
use crate::jwt::Invalid;
use crate::rejection::Rejection;

/// Which `Authorization` schemes a guard accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schemes {
    /// Bearer tokens only: a DPoP request counts as no token.
    BearerOnly,
    /// DPoP only: a bearer request counts as no token.
    DpopOnly,
    #[default]
    Both,
}

impl Schemes {
    pub fn bearer(self) -> bool {
        self != Self::DpopOnly
    }
    pub fn dpop(self) -> bool {
        self != Self::BearerOnly
    }
}

/// DPoP settings for [`crate::GuardBuilder::dpop`].
#[derive(Clone)]
pub struct DpopPolicy {
    /// Default [`Schemes::Both`].
    pub schemes: Schemes,
    /// Entries in the replay cache (one per proof seen within the iat
    /// window). Default 100,000.
    pub replay_capacity: usize,
    /// When set, proofs must carry a nonce issued under this key.
    pub nonce_key: Option<[u8; 32]>,
    /// How long an issued nonce lives (one to two windows). Default 60 s.
    pub nonce_window: Duration,
}

impl std::fmt::Debug for DpopPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopPolicy")
            .field("schemes", &self.schemes)
            .field("replay_capacity", &self.replay_capacity)
            .field("nonces", &self.nonce_key.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for DpopPolicy {
    fn default() -> Self {
        Self {
            schemes: Schemes::Both,
            replay_capacity: 100_000,
            nonce_key: None,
            nonce_window: Duration::from_secs(60),
        }
    }
}

/// What the guard holds for DPoP.
pub(crate) struct DpopState {
    schemes: Schemes,
    /// The resource URL without a trailing slash; request paths are joined to it.
    base: String,
    replay: MemoryReplayCache,
    nonces: Option<NonceIssuer>,
}

impl DpopState {
    pub(crate) fn new(p: &DpopPolicy, resource: &str) -> Result<Self, GuardError> {
        let base = resource.trim_end_matches('/').to_string();
        TargetUri::new(&base).map_err(|e| GuardError::Config(format!("resource {resource:?}: {e}")))?;
        Ok(Self {
            schemes: p.schemes,
            base,
            replay: MemoryReplayCache::new(p.replay_capacity.max(1)),
            nonces: p.nonce_key.map(|k| NonceIssuer::new(k, p.nonce_window)),
        })
    }
}

/// The accepted scheme and token of an `Authorization` header.
enum Presented<'a> {
    Bearer(&'a str),
    Dpop(&'a str),
}

/// `<scheme> <b64token>` (RFC 6750 §2.1, RFC 9449 §7.1); a scheme we do
/// not accept counts as no token.
fn presented(value: Option<&[u8]>, schemes: Schemes) -> Result<Presented<'_>, Rejection> {
    let Some(v) = value else { return Err(Rejection::Missing) };
    let text = std::str::from_utf8(v).map_err(|_| Rejection::BadRequest("malformed Authorization header"))?;
    let scheme = text.split(' ').next().unwrap_or("");
    if scheme.eq_ignore_ascii_case("bearer") && schemes.bearer() {
        return crate::rejection::bearer_token(Some(v)).map(Presented::Bearer);
    }
    if scheme.eq_ignore_ascii_case("dpop") && schemes.dpop() {
        let token = text.get(scheme.len()..).unwrap_or("").trim_start_matches(' ');
        if !crate::rejection::is_b64token(token) {
            return Err(Rejection::BadRequest("malformed Authorization header: expected DPoP <token>"));
        }
        return Ok(Presented::Dpop(token));
    }
    Err(Rejection::Missing)
}

impl Guard {
    /// Checks one request: its `Authorization` header (Bearer or DPoP, as
    /// configured) and, for DPoP, its `DPoP` header values against the
    /// method and path (`path_and_query`; the query is not part of `htu`).
    pub async fn check_request(
        &self,
        method: &str,
        path_and_query: &str,
        authorization: Option<&[u8]>,
        dpop: &[&[u8]],
    ) -> Result<Authenticated, Rejection> {
        let d = &self.inner.dpop;
        let token = match presented(authorization, d.schemes)? {
            Presented::Bearer(t) => return self.validate(t).await,
            Presented::Dpop(t) => t,
        };
        let a = self.validate_any(token).await?;
        let jkt = a.claims().jkt().ok_or(Rejection::Invalid(Invalid::NotBound))?;
        let path = path_and_query.split(['?', '#']).next().unwrap_or("");
        let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
        let target = TargetUri::new(&format!("{}{path}", d.base))
            .map_err(|_| Rejection::BadRequest("the request path is not a valid URL path"))?;
        let now = self.inner.clock.now();
        let check = |n: &str| d.nonces.as_ref().is_some_and(|i| i.check(n, now));
        let expect = Expectation {
            method,
            target: &target,
            access_token: Some(token),
            bound_jkt: Some(jkt),
            algorithms: &DpopAlg::ALL,
            iat_window: IatWindow::default(),
            nonce: if d.nonces.is_some() { NonceRule::Required(&check) } else { NonceRule::NotUsed },
            now,
            replay: &d.replay,
        };
        match verify_proof(dpop, &expect).await {
            Ok(_) => Ok(a),
            Err(e) => Err(self.proof_refused(e, now)),
        }
    }

    fn proof_refused(&self, e: DpopError, now: i64) -> Rejection {
        tracing::debug!(reason = %e, "refused a DPoP proof");
        let nonce = self.inner.dpop.nonces.as_ref().map(|i| i.issue(now));
        Rejection::Dpop { code: e.error_code(), nonce }
    }
}
