//! Proof of possession: what makes a stolen token useless. Shared by the
//! authorization server, `tessera-guard` and `tessera-client`, so it holds
//! no web framework or database types: requests are described by the few
//! parts a proof covers (method, URL, headers, body).
//!
//! # Layout
//! - [`jwk_thumbprint`]: RFC 7638 JWK thumbprints (`jkt`, the key a DPoP
//!   token is bound to).
//! - [`dpop`]: RFC 9449 DPoP proofs: making one (client) and checking one
//!   (server and resource server, §4.3), `ath` (§4.2).
//! - [`nonce`]: RFC 9449 §8/§9 server nonces, stateless: a MAC over a time
//!   window, so every node accepts every other node's.
//! - [`replay`]: the replay cache a proof's `jti` or a signature's `nonce`
//!   is checked against (a trait, and an in-memory implementation).
//! - [`content_digest`]: RFC 9530 `Content-Digest` (sha-256).
//! - [`message_signature`]: RFC 9421 HTTP Message Signatures with
//!   `hmac-sha256`: the signature base (§2.5), signing and verifying, the
//!   MAC tokens' request proof.
#![forbid(unsafe_code)]

pub mod content_digest;
pub mod dpop;
pub mod jwk_thumbprint;
pub mod message_signature;
pub mod nonce;
pub mod replay;
