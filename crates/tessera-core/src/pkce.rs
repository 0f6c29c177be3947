//! Proof Key for Code Exchange, RFC 7636, S256 only (OAuth 2.1 §4.1.1,
//! RFC 9700 §2.1.1: `plain` would let a stolen code be redeemed).

use aws_lc_rs::digest::{SHA256, digest};
use base64ct::{Base64UrlUnpadded, Encoding};
use subtle::ConstantTimeEq;

use crate::error::OAuthError;

/// RFC 7636 §4.1: 43–128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
fn well_formed(s: &str) -> bool {
    (43..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// An RFC 7636 S256 `code_challenge`: the base64url SHA-256 of a verifier,
/// exactly 43 characters. Made by [`check_challenge`] from a request, or by
/// [`CodeChallenge::parse`] when a stored code is read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// The challenge's shape (RFC 7636 §4.2 with S256): 43 base64url characters.
    pub fn parse(s: &str) -> Result<Self, OAuthError> {
        if s.len() != 43 || !well_formed(s) {
            return Err(OAuthError::invalid_request("code_challenge is not a base64url SHA-256 value"));
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6: whether `verifier` is the one this challenge was made from.
    pub fn verify(&self, verifier: &str) -> bool {
        verify(verifier, &self.0)
    }
}

impl std::fmt::Display for CodeChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.0)
    }
}

/// Checks the authorization request's `code_challenge` and method.
pub fn check_challenge(challenge: Option<&str>, method: Option<&str>) -> Result<CodeChallenge, OAuthError> {
    let challenge = challenge.ok_or_else(|| OAuthError::invalid_request("code_challenge is required (PKCE)"))?;
    match method {
        Some("S256") => {}
        None => return Err(OAuthError::invalid_request("code_challenge_method must be S256")),
        Some(_) => return Err(OAuthError::invalid_request("code_challenge_method must be S256; plain is not allowed")),
    }
    CodeChallenge::parse(challenge)
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(verifier)) == challenge`, in constant time.
pub fn verify(verifier: &str, challenge: &str) -> bool {
    if !well_formed(verifier) {
        return false;
    }
    let computed = Base64UrlUnpadded::encode_string(digest(&SHA256, verifier.as_bytes()).as_ref());
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

/// The S256 challenge of a verifier (for tests and clients).
pub fn challenge_of(verifier: &str) -> String {
    Base64UrlUnpadded::encode_string(digest(&SHA256, verifier.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let c = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(challenge_of(v), c);
        assert!(verify(v, c));
        assert!(!verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX", c));
        assert!(!verify("short", c));
        assert_eq!(check_challenge(Some(c), Some("S256")).ok().as_ref().map(CodeChallenge::as_str), Some(c));
        assert!(CodeChallenge::parse(c).is_ok_and(|ch| ch.verify(v)));
        assert!(check_challenge(Some(c), Some("plain")).is_err());
        assert!(check_challenge(Some(c), None).is_err());
        assert!(check_challenge(None, Some("S256")).is_err());
        assert!(check_challenge(Some("abc"), Some("S256")).is_err());
    }
}
