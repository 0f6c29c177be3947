//! tessera-guard: checks the access token on every request to an API.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Router, routing::get};
//! use tessera_guard::{Authenticated, Guard, require_scopes};
//!
//! let guard = Guard::builder("https://auth.example.com", "https://inventory.example.com")
//!     .client_credentials("inventory-api", "tsr_cs_…") // for revocations and opaque tokens
//!     .scopes_supported(["inventory:read", "inventory:write"])
//!     .build()
//!     .await?;
//! let app = Router::new()
//!     .route("/items", get(|who: Authenticated| async move { format!("hello {}", who.subject()) })
//!         .route_layer(require_scopes(["inventory:read"])))
//!     .layer(guard.layer())
//!     .merge(guard.metadata_router());
//! # let _: Router = app; Ok(()) }
//! ```
//!
//! # Layout
//! - [`guard`]: [`Guard`], its builder and the per-request decision
//!   (cache → JWT or introspection → revocation → staleness).
//! - [`dpop`]: DPoP-bound tokens (RFC 9449 §7): the `DPoP` scheme, proofs
//!   checked on every request, replay cache, nonces; [`DpopPolicy`].
//! - [`jwt`]: RFC 9068 validation: header checks, signature, claims.
//! - [`jwks`]: the issuer's keys, refreshed on schedule and on unknown `kid`.
//! - `revoked`: following the revocation feed; the revoked sets.
//! - `introspect`: opaque tokens, RFC 7662, with a bounded cache.
//! - [`rejection`]: refusals and their RFC 6750 / RFC 9449 `WWW-Authenticate` answers.
//! - [`layer`]: the tower layers ([`GuardLayer`], [`require_scopes`]).
//! - [`authenticated`]: [`Authenticated`] and its axum extractor.
//! - [`metadata`]: RFC 9728 protected resource metadata.
//! - [`clock`]: injected time.
#![forbid(unsafe_code)]

pub mod authenticated;
pub mod clock;
pub mod dpop;
pub mod guard;
mod http;
mod introspect;
pub mod jwks;
pub mod jwt;
pub mod layer;
pub mod metadata;
pub mod rejection;
mod revoked;

pub use authenticated::{Authenticated, TokenKind};
pub use dpop::{DpopPolicy, Schemes};
pub use guard::{Guard, GuardBuilder, OnStale};
pub use jwt::{Algorithm, Claims, Invalid};
pub use layer::{GuardLayer, RequireScopes, require_scopes};
pub use rejection::Rejection;

/// Why a guard could not be built or could not reach its issuer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GuardError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("issuer discovery: {0}")]
    Discovery(String),
    #[error("issuer unreachable: {0}")]
    Unreachable(String),
    #[error("issuer refused the request ({status}): {detail}")]
    Refused { status: u16, detail: String },
}
