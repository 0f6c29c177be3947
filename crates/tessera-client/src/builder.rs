//! [`TokenSourceBuilder`]: options of a [`TokenSource`], checked once in
//! [`build`](TokenSourceBuilder::build) so a bad setting fails at start-up,
//! not at the first request.

use std::fmt;
use std::sync::Arc;

use url::Url;

use crate::auth::ClientAuth;
use crate::clock::{Clock, SystemClock};
use crate::discovery::{check_transport, parse_issuer};
use crate::error::{Error, Result};
use crate::grant::{GrantKind, is_scope_token};
use crate::retry::RetryPolicy;
use crate::secret::RefreshToken;
use crate::source::{Config, RefreshHook, RefreshMargin, TokenSource};

/// Made by [`TokenSource::client_credentials`] or
/// [`TokenSource::from_refresh_token`].
pub struct TokenSourceBuilder {
    issuer: String,
    auth: ClientAuth,
    grant: GrantKind,
    refresh_token: Option<RefreshToken>,
    scopes: Vec<String>,
    resources: Vec<String>,
    http: Option<reqwest::Client>,
    token_endpoint: Option<String>,
    allow_http: bool,
    retry: RetryPolicy,
    margin: RefreshMargin,
    clock: Arc<dyn Clock>,
    on_refresh_token: Option<RefreshHook>,
}

impl TokenSourceBuilder {
    pub(crate) fn new(issuer: String, auth: ClientAuth, grant: GrantKind, refresh_token: Option<RefreshToken>) -> Self {
        Self {
            issuer,
            auth,
            grant,
            refresh_token,
            scopes: Vec::new(),
            resources: Vec::new(),
            http: None,
            token_endpoint: None,
            allow_http: false,
            retry: RetryPolicy::default(),
            margin: RefreshMargin::default(),
            clock: Arc::new(SystemClock),
            on_refresh_token: None,
        }
    }

    /// Asks for `scope` (RFC 6749 §3.3); call once per scope. Without any,
    /// the server grants its default.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Asks for a token meant for `resource`, an absolute URI (RFC 8707 §2);
    /// may be repeated.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// The HTTP client for discovery and token requests. The default follows
    /// no redirects, so a token request with credentials in its body is never
    /// replayed to another host.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Skips discovery and uses this token endpoint.
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.token_endpoint = Some(url.into());
        self
    }

    /// Allows plain `http` to non-loopback hosts (a private network behind
    /// TLS termination, say). Loopback addresses are always allowed.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn refresh_margin(mut self, margin: RefreshMargin) -> Self {
        self.margin = margin;
        self
    }

    /// The clock that expiry is judged by; for tests.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Called with each rotated refresh token as soon as it arrives, before
    /// any caller gets the access token that came with it. Persist it here:
    /// the previous one is spent, and sending it again outside the server's
    /// grace window revokes the whole grant (RFC 9700 §4.14.2). Runs on the
    /// token task; keep it quick, or hand the token to another task.
    pub fn on_refresh_token<F>(mut self, hook: F) -> Self
    where
        F: Fn(&RefreshToken) + Send + Sync + 'static,
    {
        self.on_refresh_token = Some(Arc::new(hook));
        self
    }

    pub fn build(self) -> Result<TokenSource> {
        let issuer = parse_issuer(&self.issuer, self.allow_http)?;
        let token_endpoint = match &self.token_endpoint {
            None => None,
            Some(s) => {
                let url =
                    Url::parse(s).map_err(|e| Error::Config(format!("token endpoint {s:?} is not a URL: {e}")))?;
                check_transport(&url, self.allow_http).map_err(Error::Config)?;
                Some(url)
            }
        };
        match self.grant {
            GrantKind::ClientCredentials if self.auth.is_public() => {
                return Err(Error::Config(
                    "the client credentials grant needs a client secret (RFC 6749 §4.4: confidential clients only)"
                        .into(),
                ));
            }
            GrantKind::RefreshToken if self.refresh_token.as_ref().is_none_or(|rt| rt.secret().is_empty()) => {
                return Err(Error::Config("empty refresh token".into()));
            }
            _ => {}
        }
        if self.auth.client_id().is_empty() {
            return Err(Error::Config("empty client_id".into()));
        }
        if let Some(bad) = self.scopes.iter().find(|s| !is_scope_token(s)) {
            return Err(Error::Config(format!("{bad:?} is not a scope token (RFC 6749 §3.3)")));
        }
        for r in &self.resources {
            // RFC 8707 §2: an absolute URI without a fragment.
            let ok = Url::parse(r).is_ok_and(|u| u.fragment().is_none());
            if !ok {
                return Err(Error::Config(format!("resource {r:?} is not an absolute URI without fragment")));
            }
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("tessera-client/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?,
        };
        Ok(TokenSource::new(Config {
            http,
            issuer,
            token_endpoint,
            allow_http: self.allow_http,
            auth: self.auth,
            grant: self.grant,
            refresh_token: self.refresh_token,
            scopes: self.scopes,
            resources: self.resources,
            retry: self.retry,
            margin: self.margin,
            clock: self.clock,
            on_refresh_token: self.on_refresh_token,
        }))
    }
}

impl fmt::Debug for TokenSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSourceBuilder")
            .field("issuer", &self.issuer)
            .field("grant", &self.grant)
            .field("auth", &self.auth)
            .field("refresh_token", &self.refresh_token)
            .field("scopes", &self.scopes)
            .field("resources", &self.resources)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}
