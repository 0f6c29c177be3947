//! Tower layers: [`GuardLayer`] checks every request's access token (Bearer,
//! or DPoP with its proof: method, path and `DPoP` headers) and
//! puts [`Authenticated`] in its extensions; [`RequireScopes`] (per route,
//! inside it) refuses tokens lacking a scope with 403 `insufficient_scope`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::Response;
use http::{Request, header};
use tower::{Layer, Service};

use crate::authenticated::Authenticated;
use crate::guard::Guard;
use crate::rejection::{Challenge, Rejection};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Guard {
    /// The layer for every protected route.
    pub fn layer(&self) -> GuardLayer {
        GuardLayer { guard: self.clone() }
    }
}

#[derive(Clone, Debug)]
pub struct GuardLayer {
    guard: Guard,
}

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GuardService { guard: self.guard.clone(), inner }
    }
}

#[derive(Clone, Debug)]
pub struct GuardService<S> {
    guard: Guard,
    inner: S,
}

/// RFC 6750 §2.3 allows `access_token` in the URI; RFC 9700 §2.4.2 says
/// not to, as URLs end up in logs and Referer headers. Refused loudly.
fn token_in_query<B>(req: &Request<B>) -> bool {
    req.uri().query().is_some_and(|q| url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "access_token"))
}

impl<S, B> Service<Request<B>> for GuardService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // The clone that was polled ready serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        Box::pin(async move {
            let challenge = guard.challenge();
            let verdict = if token_in_query(&req) {
                Err(Rejection::BadRequest("access tokens are accepted only in the Authorization header"))
            } else {
                let auth = req.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes());
                let proofs: Vec<&[u8]> = req.headers().get_all("dpop").iter().map(|v| v.as_bytes()).collect();
                let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
                guard.check_request(req.method().as_str(), path, auth, &proofs).await
            };
            match verdict {
                Ok(a) => {
                    req.extensions_mut().insert(a);
                    req.extensions_mut().insert(challenge);
                    inner.call(req).await
                }
                Err(r) => Ok(r.into_response_with(&challenge)),
            }
        })
    }
}

/// A layer demanding every one of `scopes` (RFC 6750 §3.1
/// `insufficient_scope`). Put it on routes behind [`GuardLayer`].
pub fn require_scopes<I, T>(scopes: I) -> RequireScopes
where
    I: IntoIterator<Item = T>,
    T: Into<String>,
{
    RequireScopes { scopes: scopes.into_iter().map(Into::into).collect::<Vec<_>>().into() }
}

#[derive(Clone, Debug)]
pub struct RequireScopes {
    scopes: Arc<[String]>,
}

impl<S> Layer<S> for RequireScopes {
    type Service = RequireScopesService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequireScopesService { scopes: self.scopes.clone(), inner }
    }
}

#[derive(Clone, Debug)]
pub struct RequireScopesService<S> {
    scopes: Arc<[String]>,
    inner: S,
}

impl<S, B> Service<Request<B>> for RequireScopesService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let challenge = req.extensions().get::<Arc<Challenge>>().cloned().unwrap_or_default();
        let verdict = match req.extensions().get::<Authenticated>() {
            None => Err(Rejection::Missing),
            Some(a) if self.scopes.iter().all(|s| a.has_scope(s)) => Ok(()),
            Some(_) => Err(Rejection::InsufficientScope(self.scopes.join(" "))),
        };
        match verdict {
            Ok(()) => {
                let fut = self.inner.call(req);
                Box::pin(fut)
            }
            Err(r) => Box::pin(async move { Ok(r.into_response_with(&challenge)) }),
        }
    }
}
