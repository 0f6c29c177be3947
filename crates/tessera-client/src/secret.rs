//! Credentials in memory: they print as `[redacted]` and are zeroized on drop.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_proto::Redacted;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A string credential. Not `PartialEq`: nothing here should compare secrets.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&Redacted, f)
    }
}

/// A refresh token (RFC 6749 §1.5).
///
/// Tessera rotates refresh tokens on every use and revokes the whole family
/// when a spent one comes back (RFC 9700 §4.14.2), so only the newest one may
/// ever be sent: see [`crate::TokenSourceBuilder::on_refresh_token`].
#[derive(Clone)]
pub struct RefreshToken(Secret);

impl RefreshToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(Secret::new(token))
    }

    /// The token itself, to persist it. Never log it.
    pub fn secret(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RefreshToken").field(&Redacted).finish()
    }
}

/// A bearer access token (RFC 6750) with what the token response said about it.
///
/// Cheap to clone: clones share one allocation, zeroized when the last drops.
#[derive(Clone)]
pub struct AccessToken(Arc<Inner>);

struct Inner {
    secret: Secret,
    token_type: String,
    scope: Option<String>,
    issued_at: Instant,
    expires_at: Instant,
    /// Tells cached tokens apart without comparing secrets.
    serial: u64,
}

impl AccessToken {
    pub(crate) fn new(
        secret: String,
        token_type: String,
        scope: Option<String>,
        issued_at: Instant,
        lifetime: Duration,
        serial: u64,
    ) -> Self {
        let expires_at = issued_at.checked_add(lifetime).unwrap_or(issued_at);
        Self(Arc::new(Inner { secret: Secret::new(secret), token_type, scope, issued_at, expires_at, serial }))
    }

    /// The token to send as `Authorization: Bearer …`. Never log it.
    pub fn secret(&self) -> &str {
        self.0.secret.expose()
    }

    /// `Bearer` (compared case-insensitively when the response was checked).
    pub fn token_type(&self) -> &str {
        &self.0.token_type
    }

    /// The granted scope: the response's `scope`, or the requested scope when
    /// the response left it out (RFC 6749 §5.1).
    pub fn scope(&self) -> Option<&str> {
        self.0.scope.as_deref()
    }

    /// When the token expires, on the source's clock. Counted from the moment
    /// the request was sent, so it errs early, never late.
    pub fn expires_at(&self) -> Instant {
        self.0.expires_at
    }

    /// When the request that got this token was sent, on the source's clock.
    pub fn issued_at(&self) -> Instant {
        self.0.issued_at
    }

    pub(crate) fn serial(&self) -> u64 {
        self.0.serial
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &Redacted)
            .field("token_type", &self.0.token_type)
            .field("scope", &self.0.scope)
            .field("expires_at", &self.0.expires_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts() {
        let t = AccessToken::new("at-secret".into(), "Bearer".into(), None, Instant::now(), Duration::from_secs(1), 1);
        let r = RefreshToken::new("rt-secret");
        let s = Secret::new("plain-secret");
        let out = format!("{t:?} {r:?} {s:?}");
        assert!(!out.contains("at-secret") && !out.contains("rt-secret"), "{out}");
        assert!(!out.contains("plain-secret") && out.contains("[redacted]"), "{out}");
    }

    #[test]
    fn expiry_counts_from_issue() {
        let now = Instant::now();
        let t = AccessToken::new("x".into(), "Bearer".into(), None, now, Duration::from_secs(60), 1);
        assert_eq!(t.expires_at() - t.issued_at(), Duration::from_secs(60));
    }
}
