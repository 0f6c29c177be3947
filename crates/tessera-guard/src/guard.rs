//! [`Guard`]: configuration, start-up (discovery, JWKS, catching up with the
//! revocation feed) and the per-request decision.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use tessera_proto::{AuthorizationServerMetadata, ProtectedResourceMetadata};

use crate::GuardError;
use crate::authenticated::{Authenticated, TokenKind};
use crate::clock::{Clock, SystemClock};
use crate::http::Credentials;
use crate::introspect::Introspector;
use crate::jwks::KeyCache;
use crate::jwt::{self, Algorithm, Claims, Expect, Invalid};
use crate::rejection::{Challenge, Rejection};
use crate::revoked::{Applied, FeedSource, Revoked};

/// What to do when the revocation feed has been silent longer than the
/// maximum staleness: our view of what is revoked may be out of date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStale {
    /// Refuse JWTs with 503 `temporarily_unavailable` until the feed answers.
    FailClosed,
    /// Ask the issuer about each JWT by introspection (cached as opaque
    /// tokens are); if that fails too, refuse with 503.
    Introspect,
}

/// Verified-token cache entry: claims, how the token was checked, and for
/// a JWT the `kid` that verified it (a revoked key drops its entries).
type Verified = Arc<(Arc<Claims>, TokenKind, Option<String>)>;

pub(crate) struct Inner {
    pub expect: Expect,
    pub algorithms: Vec<Algorithm>,
    pub clock: Arc<dyn Clock>,
    pub keys: KeyCache,
    pub revoked: Revoked,
    follows_feed: bool,
    max_staleness: Duration,
    on_stale: OnStale,
    /// Keyed by SHA-256 of the token. Bounded; an expired entry is dropped
    /// when next hit (and evicted by newer ones otherwise).
    verified: quick_cache::sync::Cache<[u8; 32], Verified>,
    introspector: Option<Introspector>,
    pub challenge: Arc<Challenge>,
    pub metadata: ProtectedResourceMetadata,
    pub dpop: crate::dpop::DpopState,
}

impl Inner {
    /// Drops what a batch of revocations made stale: cached introspection
    /// answers, and revoked keys with every token they verified.
    pub(crate) fn forget_revoked(&self, a: &Applied) {
        if !a.kids.is_empty() {
            for kid in &a.kids {
                self.keys.remove(kid);
            }
            self.verified.retain(|_, v| v.2.as_ref().is_none_or(|k| !a.kids.contains(k)));
        }
        let Some(i) = &self.introspector else { return };
        if a.flush_opaque {
            i.forget_all();
        } else {
            for d in &a.tokens {
                i.forget(d);
            }
        }
    }
}

/// Checks access tokens for one API (one audience). Cheap to clone; the
/// background tasks it starts stop when the last clone is dropped.
#[derive(Clone)]
pub struct Guard {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("issuer", &self.inner.expect.issuer)
            .field("audience", &self.inner.expect.audience)
            .finish_non_exhaustive()
    }
}

/// Settings for a [`Guard`]; see each method for its default.
pub struct GuardBuilder {
    issuer: String,
    audience: String,
    credentials: Option<(String, String)>,
    follow_feed: bool,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    max_staleness: Duration,
    on_stale: OnStale,
    cache_capacity: u64,
    introspection_ttl: Duration,
    jwks_refresh: Duration,
    min_jwks_refetch: Duration,
    feed_wait: Duration,
    realm: Option<String>,
    resource: Option<String>,
    scopes_supported: Vec<String>,
    resource_name: Option<String>,
    clock: Arc<dyn Clock>,
    http: Option<reqwest::Client>,
    dpop: crate::dpop::DpopPolicy,
}

impl std::fmt::Debug for GuardBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardBuilder")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// A guard for tokens from `issuer` whose `aud` includes `audience`
    /// (the API's resource identifier, usually its base URL).
    pub fn builder(issuer: impl Into<String>, audience: impl Into<String>) -> GuardBuilder {
        GuardBuilder {
            issuer: issuer.into().trim_end_matches('/').to_string(),
            audience: audience.into(),
            credentials: None,
            follow_feed: true,
            algorithms: Algorithm::ALL.to_vec(),
            leeway: Duration::from_secs(30),
            max_staleness: Duration::from_secs(60),
            on_stale: OnStale::FailClosed,
            cache_capacity: 100_000,
            introspection_ttl: Duration::from_secs(60),
            jwks_refresh: Duration::from_secs(300),
            min_jwks_refetch: Duration::from_secs(1),
            feed_wait: Duration::from_secs(25),
            realm: None,
            resource: None,
            scopes_supported: Vec::new(),
            resource_name: None,
            clock: Arc::new(SystemClock),
            http: None,
            dpop: crate::dpop::DpopPolicy::default(),
        }
    }
}

impl GuardBuilder {
    /// The API's own client at the issuer, registered for introspection
    /// (`tessera client create --introspection`): needed to follow the
    /// revocation feed and to check opaque tokens.
    pub fn client_credentials(mut self, client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.credentials = Some((client_id.into(), secret.into()));
        self
    }
    /// Accept JWTs until they expire even if revoked. Without credentials
    /// this must be said explicitly; `build` refuses otherwise.
    pub fn without_revocation_feed(mut self) -> Self {
        self.follow_feed = false;
        self
    }
    /// Accepted signature algorithms. Default: EdDSA, ES256, RS256 (each key
    /// still verifies only under its own).
    pub fn algorithms(mut self, algs: &[Algorithm]) -> Self {
        self.algorithms = algs.to_vec();
        self
    }
    /// Clock skew allowed on `exp`, `nbf`, `iat`. Default 30 s.
    pub fn leeway(mut self, d: Duration) -> Self {
        self.leeway = d;
        self
    }
    /// How long the feed may be silent before [`OnStale`] applies. Default 60 s.
    pub fn max_staleness(mut self, d: Duration) -> Self {
        self.max_staleness = d;
        self
    }
    /// Default [`OnStale::FailClosed`].
    pub fn on_stale(mut self, s: OnStale) -> Self {
        self.on_stale = s;
        self
    }
    /// Entries in each of the verified-token and introspection caches. Default 100,000.
    pub fn cache_capacity(mut self, n: u64) -> Self {
        self.cache_capacity = n;
        self
    }
    /// Longest an introspection answer is reused. Default 60 s.
    pub fn introspection_cache_ttl(mut self, d: Duration) -> Self {
        self.introspection_ttl = d;
        self
    }
    /// Scheduled JWKS refresh. Default 5 min.
    pub fn jwks_refresh(mut self, d: Duration) -> Self {
        self.jwks_refresh = d;
        self
    }
    /// Least time between JWKS fetches caused by unknown `kid`s; a token
    /// with an unknown `kid` may wait this long. Default 1 s.
    pub fn min_jwks_refetch(mut self, d: Duration) -> Self {
        self.min_jwks_refetch = d;
        self
    }
    /// How long one feed long-poll waits. Default 25 s; must be well under
    /// the maximum staleness.
    pub fn feed_wait(mut self, d: Duration) -> Self {
        self.feed_wait = d;
        self
    }
    /// `realm` in challenges. Default: the audience.
    pub fn realm(mut self, r: impl Into<String>) -> Self {
        self.realm = Some(r.into());
        self
    }
    /// RFC 9728 `resource`. Default: the audience.
    pub fn resource(mut self, r: impl Into<String>) -> Self {
        self.resource = Some(r.into());
        self
    }
    /// Scopes the API understands, for its RFC 9728 metadata.
    pub fn scopes_supported<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }
    pub fn resource_name(mut self, n: impl Into<String>) -> Self {
        self.resource_name = Some(n.into());
        self
    }
    pub fn clock(mut self, c: Arc<dyn Clock>) -> Self {
        self.clock = c;
        self
    }
    pub fn http_client(mut self, c: reqwest::Client) -> Self {
        self.http = Some(c);
        self
    }
    /// Which schemes are accepted and how DPoP proofs are checked
    /// (RFC 9449 §7). Default [`crate::dpop::DpopPolicy::default`]: Bearer
    /// and DPoP, no nonces, a 100,000-entry replay cache.
    pub fn dpop(mut self, p: crate::dpop::DpopPolicy) -> Self {
        self.dpop = p;
        self
    }
    /// Require every DPoP proof to carry a nonce issued under this key
    /// (RFC 9449 §9); others get 401 `use_dpop_nonce` with a `DPoP-Nonce`.
    pub fn dpop_nonce_key(mut self, key: [u8; 32]) -> Self {
        self.dpop.nonce_key = Some(key);
        self
    }

    /// Discovers the issuer (RFC 8414), loads its JWKS and reads the whole
    /// revocation feed before returning, so the first request is judged on
    /// current facts; then follows the feed in the background.
    pub async fn build(self) -> Result<Guard, GuardError> {
        check_url("issuer", &self.issuer)?;
        if self.algorithms.is_empty() {
            return Err(GuardError::Config("no signature algorithm is accepted".into()));
        }
        if self.follow_feed && self.credentials.is_none() {
            return Err(GuardError::Config(
                "following the revocation feed needs client_credentials (or say without_revocation_feed())".into(),
            ));
        }
        if self.follow_feed && self.feed_wait >= self.max_staleness {
            return Err(GuardError::Config("max_staleness must be longer than feed_wait".into()));
        }
        let http = match self.http {
            Some(h) => h,
            None => crate::http::client()?,
        };
        let well_known = format!("{}/.well-known/oauth-authorization-server", self.issuer);
        let meta: AuthorizationServerMetadata = crate::http::get_json(&http, &well_known, None).await?;
        if meta.issuer.trim_end_matches('/') != self.issuer {
            return Err(GuardError::Discovery(format!("{well_known} names another issuer, {:?}", meta.issuer)));
        }
        let keys =
            KeyCache::load(http.clone(), meta.jwks_uri.clone(), self.algorithms.clone(), self.min_jwks_refetch).await?;
        let credentials = self.credentials.as_ref().map(|(id, s)| Credentials::new(id, s));
        let introspector = credentials.clone().map(|c| {
            Introspector::new(
                meta.introspection_endpoint.clone(),
                c,
                http.clone(),
                self.introspection_ttl,
                self.cache_capacity,
            )
        });
        let resource = self.resource.unwrap_or_else(|| self.audience.clone());
        let metadata_url = crate::metadata::well_known_url(&resource)?;
        let dpop = crate::dpop::DpopState::new(&self.dpop, &resource)?;
        let challenge = Arc::new(Challenge {
            realm: self.realm.unwrap_or_else(|| self.audience.clone()),
            resource_metadata: metadata_url,
            schemes: self.dpop.schemes,
        });
        let metadata = ProtectedResourceMetadata {
            resource,
            authorization_servers: vec![self.issuer.clone()],
            scopes_supported: self.scopes_supported,
            bearer_methods_supported: vec!["header".into()],
            resource_name: self.resource_name,
            resource_documentation: None,
        };
        let expect =
            Expect { issuer: self.issuer.clone(), audience: self.audience, leeway: self.leeway.as_secs() as i64 };
        let verified = quick_cache::sync::Cache::new(self.cache_capacity.max(1) as usize);
        let inner = Arc::new(Inner {
            expect,
            algorithms: self.algorithms,
            clock: self.clock,
            keys,
            revoked: Revoked::new(),
            follows_feed: self.follow_feed,
            max_staleness: self.max_staleness,
            on_stale: self.on_stale,
            verified,
            introspector,
            challenge,
            metadata,
            dpop,
        });
        if let (true, Some(creds)) = (self.follow_feed, credentials) {
            let url =
                meta.revocation_feed_endpoint.clone().unwrap_or_else(|| format!("{}/oauth2/revocations", self.issuer));
            let source = FeedSource { url, credentials: creds, wait: self.feed_wait };
            source.catch_up(&http, &inner.revoked).await?;
            tokio::spawn(crate::revoked::follow(Arc::downgrade(&inner), source, http.clone()));
        }
        tokio::spawn(crate::revoked::housekeeping(Arc::downgrade(&inner), self.jwks_refresh));
        Ok(Guard { inner })
    }
}

/// https, or http on a loopback host (development), as the issuer requires.
pub(crate) fn check_url(what: &str, u: &str) -> Result<url::Url, GuardError> {
    let url = url::Url::parse(u).map_err(|e| GuardError::Config(format!("{what} {u:?} is not a URL: {e}")))?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return Err(GuardError::Config(format!("{what} {u:?} must use https (http only on a loopback host)")));
    }
    Ok(url)
}

fn sha256(token: &str) -> [u8; 32] {
    let mut d = [0u8; 32];
    d.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    d
}

impl Guard {
    /// Checks a bearer token: from the verified-token cache when it was seen
    /// before (re-checking expiry and revocation), else by signature
    /// (JWTs) or introspection (anything else). A token bound to a key
    /// (`cnf`) is refused: it needs the DPoP scheme and a proof.
    pub async fn validate(&self, token: &str) -> Result<Authenticated, Rejection> {
        let a = self.validate_any(token).await?;
        if a.claims().cnf.is_some() {
            return Err(Rejection::Invalid(Invalid::SenderConstrained));
        }
        Ok(a)
    }

    /// [`Guard::validate`] without the `cnf` refusal.
    pub(crate) async fn validate_any(&self, token: &str) -> Result<Authenticated, Rejection> {
        let i = &self.inner;
        if token.len() > jwt::MAX_TOKEN_LEN {
            return Err(Rejection::Invalid(Invalid::TooLong));
        }
        let now = i.clock.now();
        let key = sha256(token);
        if let Some(v) = i.verified.get(&key) {
            // Verified just before its key was revoked: the feed's purge of
            // the cache may have run before this entry went in.
            if v.2.as_ref().is_some_and(|kid| i.revoked.kid_revoked(kid)) {
                i.verified.remove(&key);
                return Err(Rejection::Invalid(Invalid::Revoked));
            }
            if let Err(e) = jwt::check_time(&v.0, i.expect.leeway, now) {
                i.verified.remove(&key);
                return Err(Rejection::Invalid(e));
            }
            return self.finish(token, key, v.0.clone(), v.1, now).await;
        }
        let looks_jwt = token.bytes().filter(|b| *b == b'.').count() == 2;
        if !looks_jwt {
            let claims = self.introspect(token, key, now).await?;
            return self.finish(token, key, claims, TokenKind::Opaque, now).await;
        }
        let parsed = jwt::parse(token, &i.algorithms).map_err(Rejection::Invalid)?;
        // Before any key lookup: a stale JWKS may still list a revoked key,
        // and its holder can sign anything.
        if i.revoked.kid_revoked(&parsed.kid) {
            return Err(Rejection::Invalid(Invalid::Revoked));
        }
        let vk = i.keys.get_or_refetch(&parsed.kid).await.ok_or(Rejection::Invalid(Invalid::UnknownKey))?;
        let claims = jwt::verify(&parsed, &vk, &i.expect, now).map_err(Rejection::Invalid)?;
        i.verified.insert(key, Arc::new((claims.clone(), TokenKind::Jwt, Some(parsed.kid.clone()))));
        self.finish(token, key, claims, TokenKind::Jwt, now).await
    }

    /// Revocation, and for JWTs the freshness of our revocation view.
    async fn finish(
        &self,
        token: &str,
        key: [u8; 32],
        claims: Arc<Claims>,
        kind: TokenKind,
        now: i64,
    ) -> Result<Authenticated, Rejection> {
        let i = &self.inner;
        if i.revoked.claims_revoked(&claims) || (kind == TokenKind::Opaque && i.revoked.token_revoked(&key)) {
            return Err(Rejection::Invalid(Invalid::Revoked));
        }
        if kind == TokenKind::Jwt && i.follows_feed && i.revoked.silence() > i.max_staleness {
            match i.on_stale {
                OnStale::FailClosed => {
                    return Err(Rejection::Unavailable("the issuer's revocation feed is unreachable".into()));
                }
                OnStale::Introspect => {
                    self.introspect(token, key, now).await?;
                }
            }
        }
        Ok(Authenticated::new(claims, kind))
    }

    async fn introspect(&self, token: &str, key: [u8; 32], now: i64) -> Result<Arc<Claims>, Rejection> {
        let i = &self.inner;
        let Some(intro) = &i.introspector else {
            return Err(Rejection::Invalid(Invalid::Malformed));
        };
        match intro.check(token, key, &i.expect, now).await {
            Ok(verdict) => verdict.map_err(Rejection::Invalid),
            Err(e) => {
                tracing::warn!(error = %e, "introspection failed");
                Err(Rejection::Unavailable("the issuer cannot be reached to check this token".into()))
            }
        }
    }

    /// Checks an `Authorization` header value (RFC 6750 §2.1).
    pub async fn check_header(&self, authorization: Option<&[u8]>) -> Result<Authenticated, Rejection> {
        let token = crate::rejection::bearer_token(authorization)?;
        self.validate(token).await
    }

    /// This API's RFC 9728 metadata.
    pub fn metadata(&self) -> &ProtectedResourceMetadata {
        &self.inner.metadata
    }

    /// The last revocation-feed sequence number applied.
    pub fn feed_position(&self) -> i64 {
        self.inner.revoked.position()
    }

    /// How long since the revocation feed last answered; past
    /// `max_staleness` JWTs are refused (or introspected). For health checks
    /// and metrics.
    pub fn feed_silence(&self) -> std::time::Duration {
        self.inner.revoked.silence()
    }

    /// Revocation entries held (until their tokens expire).
    pub fn revoked_count(&self) -> usize {
        self.inner.revoked.len()
    }

    /// Keys currently loaded from the issuer's JWKS.
    pub fn key_count(&self) -> usize {
        self.inner.keys.len()
    }

    pub(crate) fn challenge(&self) -> Arc<Challenge> {
        self.inner.challenge.clone()
    }
}
