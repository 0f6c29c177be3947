//! Tessera's protocol logic: what an OAuth 2.1 authorization server decides,
//! with no HTTP framework, database driver, wall clock or OS randomness in it.
//! Time and randomness are injected ([`clock::Clock`], [`random::Random`]) so
//! every rule is testable deterministically.
//!
//! # Layout
//! - [`authority`]: [`Authority`], the one object the HTTP layer and CLI call;
//!   it owns the store, the signing keys and the caches.
//! - [`grant`]: the token request parsed into [`grant::TokenRequest`], one file
//!   per grant (`client_credentials.rs` is RFC 6749 §4.4,
//!   `authorization_code.rs` §4.1.3 with PKCE and the OpenID ID token).
//! - [`endpoint`]: one file per endpoint: `authorize.rs` (RFC 6749 §4.1,
//!   OpenID Connect §3.1.2), `session.rs` (sign-in, sessions, logout),
//!   `userinfo.rs` (OpenID Connect §5.3), `introspect.rs` (RFC 7662),
//!   `revoke.rs` (RFC 7009), `discovery.rs` (RFC 8414, RFC 7517).
//! - [`token`]: token formats: `jwt.rs` (RFC 9068), `opaque.rs`, `id_token.rs`.
//! - [`pkce`] (RFC 7636), [`redirect_uri`] (registration and exact matching),
//!   [`csrf`] (signed double-submit tokens for our forms), [`throttle`]
//!   (sign-in delays), [`password`] (policy and argon2id), [`user`].
//! - [`client`], [`client_auth`]: registered clients and how they prove who
//!   they are (RFC 6749 §2.3.1).
//! - [`params`]: form parameters with the duplicate rules of RFC 6749 §3.1.
//! - [`scope`], [`keys`], [`secret`], [`clock`], [`random`], [`error`].
//! - [`store`]: one storage trait per concern (clients, keys, tokens, revocations,
//!   users, sessions, consent, codes, grants, refresh, device, …) under the
//!   `Store` umbrella every backend implements; the conformance
//!   suite that checks them lives in `tessera-store`.
//! - [`cache`]: the client and revocation caches that keep the hot paths off
//!   the database without ever serving a stale answer.
#![forbid(unsafe_code)]

pub mod admin;
pub mod authority;
pub mod cache;
pub mod client;
pub mod client_auth;
pub mod clock;
pub mod csrf;
pub mod endpoint;
pub mod error;
pub mod grant;
pub mod keys;
pub mod params;
pub mod password;
pub mod pkce;
pub mod random;
pub mod redirect_uri;
pub mod scope;
pub mod secret;
pub mod store;
pub mod throttle;
pub mod token;
pub mod user;

pub use authority::{Authority, Settings};
pub use error::OAuthError;
