//! OAuth 2.1 client library for Tessera (and other RFC 8414 servers).
//!
//! A [`TokenSource`] gets access tokens with the client credentials grant
//! (RFC 6749 §4.4) or a refresh token (§6), discovers the token endpoint from
//! the issuer (RFC 8414), caches the token and renews it ahead of expiry,
//! makes one request however many tasks ask at once, retries transient
//! failures with jittered exponential backoff, and returns OAuth errors
//! (`invalid_client`, `invalid_grant`, …) as [`Error::Rejected`] without
//! retrying them. Refresh tokens rotate: the newest is kept, handed to a
//! hook for persisting, and the spent one is never sent again.
//!
//! An [`AuthorizedClient`] wraps a `reqwest::Client` to send each request
//! with `Authorization: Bearer …` and to retry once, with a new token, on a
//! `401`.
//!
//! Depends on `tessera-proto` only, not on the server.
//!
//! ```no_run
//! use tessera_client::{AuthorizedClient, ClientAuth, TokenSource};
//!
//! # async fn run() -> Result<(), tessera_client::Error> {
//! let source = TokenSource::client_credentials(
//!     "https://auth.example.com",
//!     ClientAuth::basic("inventory-sync", std::env::var("CLIENT_SECRET").unwrap_or_default()),
//! )
//! .scope("inventory:read")
//! .resource("https://inventory.example.com")
//! .build()?;
//!
//! let token = source.token().await?; // cached until shortly before it expires
//! println!("token expires at {:?}", token.expires_at());
//!
//! let api = AuthorizedClient::new(reqwest::Client::new(), source.clone());
//! let items = api.get("https://inventory.example.com/items").send().await?;
//! println!("{}", items.status());
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//! - [`source`]: [`TokenSource`], the cache, single-flight, early refresh
//!   ([`RefreshMargin`]) and refresh-token rotation.
//! - [`builder`]: [`TokenSourceBuilder`], options and their validation.
//! - `grant`: the form parameters of each grant (RFC 6749 §4.4.2, §6; RFC 8707).
//! - `auth`: [`ClientAuth`], client authentication (RFC 6749 §2.3.1).
//! - `exchange`: one token endpoint request and the reading of its response.
//! - [`discovery`]: the metadata document (RFC 8414 §3) and the https rule.
//! - [`retry`]: [`RetryPolicy`], exponential backoff with full jitter.
//! - [`http`]: [`AuthorizedClient`], the `reqwest` wrapper.
//! - `secret`: [`AccessToken`], [`RefreshToken`]: redacted `Debug`, zeroized.
//! - [`clock`]: the injectable [`Clock`].
//! - [`error`]: [`Error`] and what counts as transient.
#![forbid(unsafe_code)]

mod auth;
pub mod builder;
pub mod clock;
pub mod discovery;
pub mod error;
mod exchange;
mod grant;
pub mod http;
pub mod retry;
mod secret;
pub mod source;

pub use auth::ClientAuth;
pub use builder::TokenSourceBuilder;
pub use clock::{Clock, SystemClock};
pub use discovery::discover;
pub use error::{Error, Result};
pub use http::{AuthorizedClient, AuthorizedRequestBuilder};
pub use retry::RetryPolicy;
pub use secret::{AccessToken, RefreshToken};
pub use source::{RefreshMargin, TokenSource};
pub use tessera_proto::ErrorCode;
