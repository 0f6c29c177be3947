//! Tessera's protocol logic: what an OAuth 2.1 authorization server decides,
//! with no HTTP framework, database driver, wall clock, OS randomness or
//! thread spawning in it. Time, randomness and threads are injected
//! ([`clock::Clock`], [`random::Random`], [`threads::Spawner`]) so every
//! rule is testable deterministically.
//!
//! # Layout
//! - [`authority`]: [`Authority`], the thin front the HTTP layer and CLI
//!   call. It owns the parts below, wires them at start, and hands each
//!   grant and endpoint only the parts it uses.
//! - The parts, one job each:
//!   - [`issuer`]: [`issuer::TokenIssuer`]: signing keys (load, reload,
//!     rotate, revoke), token formats and issuance, audiences (RFC 8707),
//!     the verified-JWT cache, sealing under the master key;
//!   - [`revocations`]: [`revocations::Revocations`]: the revoked set, recording
//!     and syncing revocations, whole-grant revocation, the opaque-token
//!     cache and the feed head ([`revocations::FeedWatch`]);
//!   - [`sign_in`]: [`sign_in::SignIn`]: password hashing, the throttle, the
//!     CSRF key and browser sessions;
//!   - [`registry`]: [`registry::ClientRegistry`]: clients and the
//!     configuration view by configuration generation, client credentials
//!     read once per request.
//! - [`grant`]: the token request parsed into [`grant::TokenRequest`] and
//!   dispatched there, one file per grant (`client_credentials.rs` is RFC
//!   6749 §4.4, `authorization_code.rs` §4.1.3 with PKCE and the OpenID ID
//!   token, `refresh_token.rs` §6, `device_code.rs` RFC 8628 §3.4), each
//!   taking [`grant::GrantParts`] or less and answering a `TokenResponse`.
//! - [`endpoint`]: one file per endpoint, each taking the parts it uses:
//!   `authorize.rs` + `implicit.rs` (RFC 6749 §4.1/§4.2, OpenID Connect
//!   §3.1.2), `session.rs` (sign-in, sessions, logout), `userinfo.rs`
//!   (OpenID Connect §5.3), `introspect.rs` (RFC 7662), `revoke.rs`
//!   (RFC 7009), `discovery.rs` (RFC 8414, RFC 7517), `device.rs`
//!   (RFC 8628), `revocation_feed.rs`.
//! - [`admin`]: operator actions that must also revoke tokens.
//! - [`token`]: token formats: `jwt.rs` (RFC 9068), `opaque.rs`, `id_token.rs`.
//! - [`pkce`] (RFC 7636), [`redirect_uri`] (registration and exact matching),
//!   [`csrf`] (signed double-submit tokens for our forms), [`throttle`]
//!   (sign-in delays), [`password`] (policy and argon2id), [`user`].
//! - [`dpop`]: DPoP at the token endpoint (RFC 9449 §5, §8): the proof
//!   checked before the grant runs (`tessera_pop` does the checks), the
//!   server nonces, the nonce policy and the injected replay cache; and at
//!   UserInfo (§7): a bound token with a proof of its key carrying `ath`.
//! - [`client`], [`client_auth`]: registered clients and how they prove who
//!   they are (RFC 6749 §2.3.1).
//! - [`params`]: form parameters with the duplicate rules of RFC 6749 §3.1.
//! - [`amr`]: how the user signed in (RFC 8176), from session to ID token.
//! - [`ids`]: [`ids::ClientId`] and [`ids::UserId`], so one is never passed for the other.
//! - [`error`]: [`OAuthError`], mapped once to RFC error codes, and
//!   [`error::Cause`], an internal failure kept as a `source()` chain
//!   ([`error::chain`] prints one, once, for the log; clients never see it).
//! - [`scope`], [`keys`], [`secret`], [`clock`], [`random`], [`threads`].
//! - [`store`]: one storage trait per concern (clients, keys, tokens, revocations,
//!   users, sessions, consent, codes, grants, refresh, device, …) under the
//!   `Store` umbrella every backend implements; the conformance
//!   suite that checks them lives in `tessera-store`.
//! - [`cache`]: the client, configuration and revocation caches the parts
//!   keep, exact without ever serving a stale answer.
#![forbid(unsafe_code)]

pub mod admin;
pub mod amr;
pub mod authority;
pub mod cache;
pub mod client;
pub mod client_auth;
pub mod clock;
pub mod csrf;
pub mod dpop;
pub mod endpoint;
pub mod error;
pub mod grant;
pub mod ids;
pub mod issuer;
pub mod keys;
pub mod params;
pub mod password;
pub mod pkce;
pub mod random;
pub mod redirect_uri;
pub mod registry;
pub mod revocations;
pub mod scope;
pub mod secret;
pub mod sign_in;
pub mod store;
pub mod threads;
pub mod throttle;
pub mod token;
pub mod user;

pub use authority::{Authority, Settings};
pub use error::OAuthError;
