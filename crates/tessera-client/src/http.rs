//! [`AuthorizedClient`]: a `reqwest` client that sends each request with
//! `Authorization: Bearer …` (RFC 6750 §2.1) from a [`TokenSource`].
//!
//! The token only ever goes in that header: never in the URL (RFC 6750 §2.3
//! is for clients that cannot set headers, and URLs end up in logs).

use std::fmt;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use reqwest::{IntoUrl, Method, Request, Response, StatusCode};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::AccessToken;
use crate::source::TokenSource;

/// Sends requests with a bearer token, and on a `401 Unauthorized` fetches a
/// new token and sends the request once more.
///
/// The retry needs a second copy of the request, so it happens only when the
/// body can be cloned ([`Request::try_clone`]: not for streaming bodies). A
/// second 401 is returned as it is, as is any other status: this wrapper does
/// not interpret responses. Redirects follow the given client's policy;
/// reqwest drops `Authorization` when a redirect leaves the original host.
#[derive(Clone)]
pub struct AuthorizedClient {
    http: reqwest::Client,
    source: TokenSource,
}

impl AuthorizedClient {
    pub fn new(http: reqwest::Client, source: TokenSource) -> Self {
        Self { http, source }
    }

    pub fn source(&self) -> &TokenSource {
        &self.source
    }

    pub fn request(&self, method: Method, url: impl IntoUrl) -> AuthorizedRequestBuilder {
        AuthorizedRequestBuilder { client: self.clone(), inner: self.http.request(method, url) }
    }

    pub fn get(&self, url: impl IntoUrl) -> AuthorizedRequestBuilder {
        self.request(Method::GET, url)
    }

    pub fn post(&self, url: impl IntoUrl) -> AuthorizedRequestBuilder {
        self.request(Method::POST, url)
    }

    pub fn put(&self, url: impl IntoUrl) -> AuthorizedRequestBuilder {
        self.request(Method::PUT, url)
    }

    pub fn patch(&self, url: impl IntoUrl) -> AuthorizedRequestBuilder {
        self.request(Method::PATCH, url)
    }

    pub fn delete(&self, url: impl IntoUrl) -> AuthorizedRequestBuilder {
        self.request(Method::DELETE, url)
    }

    pub fn head(&self, url: impl IntoUrl) -> AuthorizedRequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// Sends `request` with a token; any `Authorization` it had is replaced.
    pub async fn execute(&self, request: Request) -> Result<Response> {
        let token = self.source.token().await?;
        // Taken before the header is set, so the copy carries no stale token.
        let spare = request.try_clone();
        let response = self.send(request, &token).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let Some(again) = spare else {
            tracing::debug!("401 on a request whose body cannot be replayed; not retrying");
            return Ok(response);
        };
        // The token was refused: revoked, or expired early by a clock ahead
        // of ours. Drop it (unless another request already replaced it) and
        // try once with a fresh one; a second 401 is the API's final word.
        tracing::debug!(url = %again.url(), "401 Unauthorized; retrying once with a new token");
        self.source.invalidate_token(&token);
        let fresh = self.source.token().await?;
        self.send(again, &fresh).await
    }

    async fn send(&self, mut request: Request, token: &AccessToken) -> Result<Response> {
        request.headers_mut().insert(AUTHORIZATION, bearer(token)?);
        self.http.execute(request).await.map_err(Error::transport)
    }
}

fn bearer(token: &AccessToken) -> Result<HeaderValue> {
    let value = Zeroizing::new(format!("Bearer {}", token.secret()));
    let mut header = HeaderValue::from_str(&value)
        .map_err(|_| Error::InvalidResponse("the access token is not a valid header value".into()))?;
    header.set_sensitive(true);
    Ok(header)
}

impl fmt::Debug for AuthorizedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizedClient").field("source", &self.source).finish_non_exhaustive()
    }
}

/// A [`reqwest::RequestBuilder`] that [`send`](Self::send)s through an
/// [`AuthorizedClient`]. Methods not mirrored here are reachable via
/// [`map`](Self::map).
pub struct AuthorizedRequestBuilder {
    client: AuthorizedClient,
    inner: reqwest::RequestBuilder,
}

impl AuthorizedRequestBuilder {
    /// Applies any `reqwest::RequestBuilder` method.
    pub fn map(mut self, f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Self {
        self.inner = f(self.inner);
        self
    }

    pub fn header<K, V>(self, key: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        self.map(|b| b.header(key, value))
    }

    pub fn headers(self, headers: HeaderMap) -> Self {
        self.map(|b| b.headers(headers))
    }

    pub fn query<T: Serialize + ?Sized>(self, query: &T) -> Self {
        self.map(|b| b.query(query))
    }

    pub fn json<T: Serialize + ?Sized>(self, json: &T) -> Self {
        self.map(|b| b.json(json))
    }

    pub fn form<T: Serialize + ?Sized>(self, form: &T) -> Self {
        self.map(|b| b.form(form))
    }

    pub fn body(self, body: impl Into<reqwest::Body>) -> Self {
        self.map(|b| b.body(body))
    }

    pub fn timeout(self, timeout: Duration) -> Self {
        self.map(|b| b.timeout(timeout))
    }

    pub fn build(self) -> Result<Request> {
        self.inner.build().map_err(Error::transport)
    }

    pub async fn send(self) -> Result<Response> {
        let request = self.inner.build().map_err(Error::transport)?;
        self.client.execute(request).await
    }
}

impl fmt::Debug for AuthorizedRequestBuilder {
    // reqwest's builder Debug shows headers, and a caller may have put
    // credentials of its own there.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizedRequestBuilder").finish_non_exhaustive()
    }
}
