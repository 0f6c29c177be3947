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

/// Checks the authorization request's `code_challenge` and method.
pub fn check_challenge(challenge: Option<&str>, method: Option<&str>) -> Result<String, OAuthError> {
    let challenge = challenge.ok_or_else(|| OAuthError::invalid_request("code_challenge is required (PKCE)"))?;
    match method {
        Some("S256") => {}
        None => return Err(OAuthError::invalid_request("code_challenge_method must be S256")),
        Some(_) => return Err(OAuthError::invalid_request("code_challenge_method must be S256; plain is not allowed")),
    }
    // An S256 challenge is the base64url SHA-256: exactly 43 characters.
    if challenge.len() != 43 || !well_formed(challenge) {
        return Err(OAuthError::invalid_request("code_challenge is not a base64url SHA-256 value"));
    }
    Ok(challenge.to_string())
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
        assert_eq!(check_challenge(Some(c), Some("S256")).ok().as_deref(), Some(c));
        assert!(check_challenge(Some(c), Some("plain")).is_err());
        assert!(check_challenge(Some(c), None).is_err());
        assert!(check_challenge(None, Some("S256")).is_err());
        assert!(check_challenge(Some("abc"), Some("S256")).is_err());
    }
}
