//! [`Authenticated`]: who a request's token speaks for, and the axum
//! extractor that hands it to handlers.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use crate::jwt::Claims;
use crate::rejection::{Challenge, Rejection};

/// How a token was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A JWT, verified locally.
    Jwt,
    /// An opaque token, checked by introspection.
    Opaque,
}

/// A request's verified token. Put in the request's extensions by the
/// guard's layer; taken by handlers as an extractor.
#[derive(Debug, Clone)]
pub struct Authenticated {
    claims: Arc<Claims>,
    kind: TokenKind,
}

impl Authenticated {
    pub(crate) fn new(claims: Arc<Claims>, kind: TokenKind) -> Self {
        Self { claims, kind }
    }
    /// The user (or, for client credentials, the client) the token speaks for.
    pub fn subject(&self) -> &str {
        &self.claims.sub
    }
    pub fn client_id(&self) -> &str {
        &self.claims.client_id
    }
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.claims.scope.as_deref().unwrap_or("").split(' ').filter(|s| !s.is_empty())
    }
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }
    pub fn claims(&self) -> &Claims {
        &self.claims
    }
    pub fn kind(&self) -> TokenKind {
        self.kind
    }
}

/// A handler that takes `Authenticated` behind a router without the guard's
/// layer gets 401, never an unauthenticated call.
impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(a) = parts.extensions.get::<Authenticated>() {
            return Ok(a.clone());
        }
        tracing::error!("Authenticated extracted on a route without the guard's layer");
        let challenge = parts.extensions.get::<Arc<Challenge>>().cloned().unwrap_or_default();
        Err(Rejection::Missing.into_response_with(&challenge))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Authenticated {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Authenticated>().cloned())
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.into_response_with(&Challenge::default())
    }
}
