//! Fuzz harnesses for Tessera's parsers of untrusted input. Each target is a
//! function taking arbitrary bytes that must never panic and that asserts
//! the parser's invariants (bounded output, the documented grammar, a
//! parse → encode → parse round trip where one exists). The cargo-fuzz
//! project in `fuzz/` calls them; `tests/corpus.rs` replays every committed
//! corpus file through them in `cargo test`.
//!
//! # Layout
//! - [`forms`]: `form` (RFC 6749 §3.1 parameters), `basic_auth` (RFC 6749
//!   §2.3.1), `token_request` (the token endpoint's request, from HTTP
//!   headers and body to [`tessera_core::grant::TokenRequest`]).
//! - [`jwt`]: `jwt`: the access-token checks of core and of the guard, on
//!   raw tokens and on fuzzed headers/claims signed with a fixed key.
//! - [`uri`]: `redirect_uri` (OAuth 2.1 §2.3.1, RFC 8252 §7.3), `scope`
//!   (RFC 6749 §3.3), `feed_query` (the revocation feed's query).
//! - [`cookie`]: `cookie_csrf`: the `Cookie` header and the CSRF tokens.
#![forbid(unsafe_code)]
// A harness reports a broken invariant by panicking: that is the finding.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

pub mod cookie;
pub mod forms;
pub mod jwt;
pub mod uri;

use tessera_core::OAuthError;

/// A harness: panics when the input breaks an invariant.
pub type Harness = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/*.rs` file and corpus
/// directory.
pub const TARGETS: &[(&str, Harness)] = &[
    ("form", forms::form),
    ("basic_auth", forms::basic_auth),
    ("token_request", forms::token_request),
    ("jwt", jwt::jwt),
    ("redirect_uri", uri::redirect_uri),
    ("scope", uri::scope),
    ("feed_query", uri::feed_query),
    ("cookie_csrf", cookie::cookie_csrf),
];

/// An error a client sees (RFC 6749 §5.2 `error_description`): short and
/// free of control characters whatever the input, so a crafted request can
/// neither inflate responses and logs nor inject lines into them.
pub fn check_error(e: &OAuthError) {
    let d = &e.description;
    assert!(d.chars().count() <= 200, "error description of {} characters: {d:.80}", d.chars().count());
    assert!(!d.chars().any(char::is_control), "control character in error description: {d:?}");
}

/// Splits at the first `\n`: (first line, rest).
pub fn first_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}
