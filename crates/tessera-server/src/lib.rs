//! The Tessera authorization server: the `tessera` binary's library.
//!
//! # Layout
//! - [`cli`]: the command line (clap): `serve`, `client …`, `token …`, `key …`,
//!   `user …`, `scope …`, `grant …`; each error is one line on stderr and a
//!   non-zero exit.
//! - [`config`]: settings from flags, `TESSERA_*` variables and `tessera.toml`,
//!   in that order of precedence, checked once at start.
//! - [`data`]: the data directory: SQLite database and the master key file.
//! - [`http`]: the thin axum layer: routes, the one mapping from
//!   [`tessera_core::OAuthError`] to HTTP, request parsing, health probes;
//!   `browser.rs` (authorize, sign-in, consent, logout) and `pages.rs`
//!   (askama templates from `templates/`, cookies, page security headers);
//!   `oauth.rs` hands the token endpoint's `DPoP` headers to core and adds
//!   `DPoP-Nonce` (RFC 9449 §8).
//! - [`background`]: purging expired rows and following revocations.
#![forbid(unsafe_code)]

pub mod background;
pub mod cli;
pub mod config;
pub mod data;
pub mod http;
