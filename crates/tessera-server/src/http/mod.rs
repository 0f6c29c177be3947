//! The HTTP layer: routes, cross-cutting layers, and serving over HTTP or
//! HTTPS (rustls) with graceful shutdown on SIGTERM or Ctrl-C.

pub mod browser;
pub mod client_addr;
pub mod conn;
pub mod device;
pub mod error;
pub mod feed;
pub mod health;
pub mod oauth;
pub mod pages;
pub mod rate_limit;
pub mod request;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tessera_core::{Authority, OAuthError};
use tessera_proto::ErrorCode;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;
use error::ApiError;

/// Largest request body accepted on any route.
pub const BODY_LIMIT: usize = 64 * 1024;

/// What every handler shares, behind one `Arc`: middleware clones the
/// state for each request, and one reference count is cheaper than five.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub authority: Arc<Authority>,
    pub cookies: Arc<pages::Cookies>,
    /// Set once on SIGTERM, so long-polls answer instead of holding up shutdown.
    pub shutdown: Arc<tokio::sync::watch::Sender<bool>>,
    pub net: Arc<Net>,
    pub limits: Arc<rate_limit::Limits>,
}

/// How requests are attributed and bounded.
#[derive(Debug)]
pub struct Net {
    pub trusted_proxies: Vec<client_addr::Cidr>,
    pub request_timeout: Duration,
}

impl AppState {
    pub fn new(authority: Arc<Authority>, cfg: &Config) -> Self {
        let cookies = Arc::new(pages::Cookies::new(&authority.settings().issuer));
        let net = Net { trusted_proxies: cfg.trusted_proxies.clone(), request_timeout: cfg.request_timeout };
        Self(Arc::new(Shared {
            authority,
            cookies,
            shutdown: Arc::new(tokio::sync::watch::Sender::new(false)),
            net: Arc::new(net),
            limits: Arc::new(rate_limit::Limits::new(&cfg.rate_limits)),
        }))
    }
}

pub fn router(state: AppState, https: bool) -> Router {
    // Anyone may call these before authenticating: a budget per address.
    let unauthenticated = Router::new()
        .route("/oauth2/authorize", get(browser::authorize_get).post(browser::authorize_post))
        .route("/login", get(browser::login_get).post(browser::login))
        .route("/consent", post(browser::consent))
        .route("/oauth2/device_authorization", post(oauth::device_authorization))
        .route("/device", get(device::device_get).post(device::device_post))
        .route_layer(middleware::from_fn_with_state(state.clone(), rate_limit::per_address));
    let mut r = Router::new()
        .route("/oauth2/token", post(oauth::token).options(oauth::preflight))
        .route("/oauth2/userinfo", get(oauth::userinfo).post(oauth::userinfo).options(oauth::preflight))
        .route("/oauth2/logout", get(browser::logout_get).post(browser::logout_post))
        .merge(unauthenticated)
        .route("/assets/tessera.css", get(browser::css))
        .route("/oauth2/introspect", post(oauth::introspect))
        .route("/oauth2/revoke", post(oauth::revoke))
        .route("/oauth2/revocations", get(feed::revocations))
        .route("/oauth2/jwks", get(oauth::jwks))
        .route("/.well-known/oauth-authorization-server", get(oauth::metadata))
        .route("/.well-known/openid-configuration", get(oauth::metadata))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            ApiError(OAuthError::server_error("handler panicked")).into_response()
        }))
        .layer(middleware::from_fn_with_state(state.clone(), conn::deadline))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    if https {
        r = r.layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("strict-transport-security"),
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        ));
    }
    r.with_state(state)
}

async fn not_found() -> Response {
    ApiError(OAuthError::new(ErrorCode::NotFound, "no such endpoint")).into_response()
}

async fn method_not_allowed() -> Response {
    ApiError(OAuthError::new(ErrorCode::MethodNotAllowed, "method not allowed on this endpoint")).into_response()
}

/// `tessera serve`.
pub async fn serve(cfg: Config, migrate: bool) -> anyhow::Result<()> {
    let (_store, authority) = crate::data::open_with(&cfg, migrate).await?;
    // The client address (the peer, or what a trusted proxy says) keys the
    // sign-in throttle and the rate limits.
    let state = AppState::new(authority.clone(), &cfg);
    let bg = crate::background::spawn(authority, state.limits.clone(), cfg.purge_interval);
    let stopping = state.shutdown.clone();
    let app = conn::ConnectionLimit::new(
        router(state, cfg.tls.is_some()).into_make_service_with_connect_info::<SocketAddr>(),
        cfg.max_connections,
    );
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stopping.send_replace(true);
        h.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    let (h, issuer, tls) = (handle.clone(), cfg.issuer.clone(), cfg.tls.is_some());
    tokio::spawn(async move {
        if let Some(addr) = h.listening().await {
            tracing::info!(listen = %addr, %issuer, tls, "tessera is serving");
        }
    });
    let r = match &cfg.tls {
        None => conn::tune(axum_server::bind(cfg.listen).handle(handle)).serve(app).await,
        Some((cert, key)) => {
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .with_context(|| format!("cannot load TLS certificate {} and key {}", cert.display(), key.display()))?;
            conn::tune(axum_server::bind_rustls(cfg.listen, tls).handle(handle)).serve(app).await
        }
    };
    bg.abort();
    r.with_context(|| format!("cannot serve on {}", cfg.listen))?;
    tracing::info!("tessera stopped");
    Ok(())
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
