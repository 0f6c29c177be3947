//! What one client can hold: a whole-request deadline (`--request-timeout`),
//! a cap on open connections (`--max-connections`), and the HTTP/1 and
//! HTTP/2 limits of the connection itself. Nothing a client does, slowly or
//! many times over, holds a request, a stream or a connection open forever.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tessera_core::OAuthError;
use tessera_proto::ErrorCode;
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};
use tower::Service;

use super::AppState;
use super::error::ApiError;

/// Slow clients may take this long to send headers (HTTP/1, each request),
/// or a first request (HTTP/2, TLS); a body gets [`super::request::BODY_DEADLINE`].
/// Also how long an idle keep-alive connection stays open.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests one HTTP/2 connection may have in flight.
pub const H2_MAX_STREAMS: u32 = 100;
/// HTTP/2 pings find dead peers; a peer that does not answer one in time is dropped.
pub const H2_KEEP_ALIVE: Duration = Duration::from_secs(20);
/// Largest header block, decoded (HPACK can expand a small frame).
pub const H2_MAX_HEADER_LIST: u32 = 16 * 1024;
/// Streams a client may open and reset at once before the connection is
/// closed (the "rapid reset" attack, CVE-2023-44487).
pub const H2_MAX_PENDING_RESETS: usize = 20;

/// The connection limits of one listener.
pub fn tune<Acc>(mut server: axum_server::Server<SocketAddr, Acc>) -> axum_server::Server<SocketAddr, Acc> {
    let b = server.http_builder();
    b.http1().header_read_timeout(HEADER_READ_TIMEOUT);
    b.http2()
        .max_concurrent_streams(H2_MAX_STREAMS)
        .keep_alive_interval(H2_KEEP_ALIVE)
        .keep_alive_timeout(H2_KEEP_ALIVE)
        .max_header_list_size(H2_MAX_HEADER_LIST)
        .max_pending_accept_reset_streams(H2_MAX_PENDING_RESETS);
    server.first_request_timeout(HEADER_READ_TIMEOUT)
}

/// Paths answered with HTML pages, so a refusal is a page too.
pub fn is_browser_path(path: &str) -> bool {
    matches!(path, "/oauth2/authorize" | "/oauth2/logout" | "/login" | "/consent" | "/device")
}

/// Middleware: a request that takes longer than `--request-timeout` is
/// answered 503 `temporarily_unavailable` (an error page in the browser).
/// The long-poll of the revocation feed gets its longest wait on top.
///
/// Dropping the handler only ever turns an answer into this error: a token
/// is sent only after its write committed, so no client holds a token that
/// was not stored. A write cut off mid-way is rolled back, or, when it had
/// already committed, is a token nobody received.
///
/// It also resolves the client address first ([`super::client_addr::resolve`]):
/// one middleware per request, not two.
pub async fn deadline(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    super::client_addr::resolve(&s.net, &mut req);
    let uri = req.uri().clone();
    let mut budget = s.net.request_timeout;
    if uri.path() == "/oauth2/revocations" {
        budget += super::feed::MAX_WAIT;
    }
    match tokio::time::timeout(budget, next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            let path = uri.path();
            tracing::warn!(%path, timeout_s = budget.as_secs(), "request timed out");
            let e = OAuthError::new(ErrorCode::TemporarilyUnavailable, "the request took too long; try again");
            if is_browser_path(path) {
                super::pages::error_page(&s.authority.settings().issuer, &e)
            } else {
                ApiError(e).into_response()
            }
        }
    }
}

type Acquire = Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>;

/// Wraps the make-service: a connection is accepted only with a permit,
/// held until the connection closes. At the cap the accept loop waits, and
/// new connections queue in the kernel's listen backlog.
pub struct ConnectionLimit<M> {
    inner: M,
    permits: Arc<Semaphore>,
    acquiring: Option<Acquire>,
    permit: Option<OwnedSemaphorePermit>,
    warned: Option<Instant>,
}

impl<M> ConnectionLimit<M> {
    pub fn new(inner: M, max: usize) -> Self {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        Self { inner, permits: Arc::new(Semaphore::new(max)), acquiring: None, permit: None, warned: None }
    }
}

impl<M, T> Service<T> for ConnectionLimit<M>
where
    M: Service<T>,
    M::Future: Send + 'static,
    M::Response: Send + 'static,
    M::Error: Send + 'static,
{
    type Response = Held<M::Response>;
    type Error = M::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.permit.is_none() {
            let permits = self.permits.clone();
            let acquiring = self.acquiring.get_or_insert_with(|| Box::pin(permits.acquire_owned()));
            match acquiring.as_mut().poll(cx) {
                Poll::Ready(Ok(p)) => {
                    self.permit = Some(p);
                    self.acquiring = None;
                }
                // The semaphore is never closed; were it, connections go uncounted.
                Poll::Ready(Err(_)) => self.acquiring = None,
                Poll::Pending => {
                    if self.warned.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                        self.warned = Some(Instant::now());
                        tracing::warn!("connection limit reached: new connections wait (--max-connections)");
                    }
                    return Poll::Pending;
                }
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, target: T) -> Self::Future {
        let permit = self.permit.take().map(Arc::new);
        let fut = self.inner.call(target);
        Box::pin(async move { fut.await.map(|inner| Held { inner, _permit: permit }) })
    }
}

/// A connection's service, holding its permit (shared by its requests in flight).
#[derive(Clone)]
pub struct Held<S> {
    inner: S,
    _permit: Option<Arc<OwnedSemaphorePermit>>,
}

impl<S: Service<R>, R> Service<R> for Held<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        self.inner.call(req)
    }
}
