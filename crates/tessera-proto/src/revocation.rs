//! The revocation feed (`GET /oauth2/revocations?after=SEQ`), Tessera's own
//! endpoint: every revocation with a sequence number, so a resource server
//! can reject a revoked JWT within a second instead of at its `exp`.
//!
//! Entries are kept until the tokens they name would have expired; a reader
//! that was away longer than that has missed only entries that no longer
//! matter. Sequence numbers only grow; `head` below the reader's position
//! means the server's store was replaced, and the reader starts over.

use serde::{Deserialize, Serialize};

/// What a feed entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokedKind {
    /// A JWT access token; `value` is its `jti`.
    Jti,
    /// An opaque access token; `value` is the hex SHA-256 of the token.
    TokenSha256,
    /// Every token carrying `grant_id` = `value` (a sign-in's whole family).
    Grant,
    /// Every token of client `value` issued at or before `revoked_at`
    /// (the client was deleted).
    Client,
    /// Every token signed by the key whose `kid` is `value` (a compromised
    /// signing key): drop what it verified and refuse that `kid` from now
    /// on, even while a cached JWKS still lists it.
    Key,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationFeedEntry {
    pub seq: i64,
    pub kind: RevokedKind,
    pub value: String,
    pub client_id: String,
    /// When the named tokens expire at the latest; the entry can be dropped then.
    pub exp: i64,
    pub revoked_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationFeed {
    /// Oldest first, all with `seq > after`.
    pub revocations: Vec<RevocationFeedEntry>,
    /// The highest sequence number the server has handed out.
    pub head: i64,
}
