//! ID tokens, OpenID Connect Core §2 and §3.1.3.6: header `typ: JWT`, signed
//! with the client's `id_token_signed_response_alg` (RS256 unless it chose
//! EdDSA or ES256), with `at_hash` binding the access token issued beside it.
//! Profile and email claims (§5.4) by scope; the same claims as userinfo.

use aws_lc_rs::digest::{SHA256, SHA512, digest};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};

use crate::keys::{Algorithm, KeyError, KeySet, SigningKey};
use crate::scope::ScopeSet;
use crate::store::User;
use crate::token::jwt::{self, MAX_JWT_LEN};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    #[serde(flatten)]
    pub user: UserClaims,
}

/// Standard claims about the user (OpenID Connect Core §5.1), by scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Tessera does not verify addresses, so it never claims to have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

impl UserClaims {
    pub fn of(user: &User, scope: &ScopeSet) -> Self {
        let mut c = Self::default();
        if scope.contains("profile") {
            c.name = user.name.clone();
            c.preferred_username = Some(user.username.clone());
            c.updated_at = Some(user.updated_at);
        }
        if scope.contains("email") {
            c.email = Some(user.email.clone());
            c.email_verified = Some(false);
        }
        c
    }
}

/// §3.1.3.6: the left half of the hash of the access token, with the hash
/// of the signing algorithm (SHA-512 for Ed25519, per the EdDSA errata).
pub fn at_hash(alg: Algorithm, access_token: &str) -> String {
    let h = match alg {
        Algorithm::EdDSA => digest(&SHA512, access_token.as_bytes()),
        Algorithm::ES256 | Algorithm::RS256 => digest(&SHA256, access_token.as_bytes()),
    };
    let h = h.as_ref();
    Base64UrlUnpadded::encode_string(&h[..h.len() / 2])
}

pub fn encode(key: &SigningKey, claims: &IdTokenClaims) -> Result<String, KeyError> {
    jwt::sign_compact(key, key.id_token_header(), claims)
}

/// For `id_token_hint` (RP-Initiated Logout §2): an ID token we signed, for
/// this issuer; expired ones are accepted, as the specification allows.
pub fn verify_hint(keys: &KeySet, issuer: &str, token: &str, now: i64) -> Option<IdTokenClaims> {
    if token.len() > MAX_JWT_LEN {
        return None;
    }
    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.typ.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("JWT")) || header.crit.is_some() {
        return None;
    }
    let key = keys.get(header.kid.as_deref()?, now)?;
    if header.alg != key.alg().jsonwebtoken() {
        return None;
    }
    let dk = key.decoding_key().ok()?;
    jsonwebtoken::decode::<IdTokenClaims>(token, &dk, &jwt::validation(key, issuer)).ok().map(|d| d.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_openid_example() {
        // OpenID Connect Core Appendix A.3 (RS256): at_hash of the example token.
        assert_eq!(at_hash(Algorithm::RS256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
    }

    #[test]
    fn round_trip_and_hint() {
        let (k, _) = SigningKey::generate(Algorithm::ES256, 0).unwrap_or_else(|e| panic!("{e}"));
        let keys = KeySet::new(vec![k], Algorithm::ES256);
        let key = keys.active_for(Algorithm::ES256, 1).unwrap_or_else(|| panic!("no key"));
        let claims = IdTokenClaims {
            iss: "https://as".into(),
            sub: "u1".into(),
            aud: "c1".into(),
            exp: 100,
            iat: 10,
            auth_time: 5,
            nonce: Some("n".into()),
            at_hash: Some(at_hash(Algorithm::ES256, "tok")),
            amr: vec!["pwd".into()],
            sid: Some("s".into()),
            azp: None,
            user: UserClaims { email: Some("a@b.c".into()), ..Default::default() },
        };
        let t = encode(key, &claims).unwrap_or_default();
        let back = verify_hint(&keys, "https://as", &t, 1000).unwrap_or_else(|| panic!("hint refused"));
        assert_eq!((back.sub.as_str(), back.aud.as_str()), ("u1", "c1"));
        assert_eq!(back.user.email.as_deref(), Some("a@b.c"));
        assert!(verify_hint(&keys, "https://other", &t, 1000).is_none());
        // An access token is not an ID token hint.
        assert!(verify_hint(&keys, "https://as", &t.replacen('e', "f", 1), 1000).is_none());
    }
}
