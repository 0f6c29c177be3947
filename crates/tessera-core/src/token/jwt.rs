//! JWT access tokens, RFC 9068: header `typ: at+jwt`, claims
//! `iss sub aud exp iat jti client_id scope` and nothing else.
//!
//! Signing assembles the JWS compact form (RFC 7515 §7.1) around a key that
//! stays parsed in memory; verification goes through `jsonwebtoken`, with the
//! algorithm taken from our key, never from the token.

use base64ct::{Base64UrlUnpadded, Encoding};
use tessera_proto::{AccessTokenClaims, Audience};

use crate::keys::{KeyError, KeySet, SigningKey};
use crate::token::TokenFacts;

/// Longer than any token we issue by far; anything bigger is refused unread.
pub const MAX_JWT_LEN: usize = 8 * 1024;

pub fn claims_of(issuer: &str, f: &TokenFacts) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: issuer.to_string(),
        sub: f.subject.clone(),
        aud: Audience::from_list(f.audience.clone()),
        exp: f.expires_at,
        iat: f.issued_at,
        jti: f.jti.clone(),
        client_id: f.client_id.to_string(),
        scope: (!f.scope.is_empty()).then(|| f.scope.clone()),
        auth_time: f.auth_time,
        grant_id: f.grant_id.clone(),
        cnf: f.jkt.clone().map(|jkt| tessera_proto::Confirmation { jkt }),
    }
}

pub fn encode(key: &SigningKey, claims: &AccessTokenClaims) -> Result<String, KeyError> {
    sign_compact(key, key.at_jwt_header(), claims)
}

/// JWS compact serialization (RFC 7515 §7.1) of `claims` under a
/// precomputed base64url header.
pub fn sign_compact(key: &SigningKey, header: &str, claims: &impl serde::Serialize) -> Result<String, KeyError> {
    let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?;
    let mut out = String::with_capacity(header.len() + payload.len() * 4 / 3 + 360);
    out.push_str(header);
    out.push('.');
    out.push_str(&Base64UrlUnpadded::encode_string(&payload));
    let sig = key.sign(out.as_bytes())?;
    out.push('.');
    out.push_str(&Base64UrlUnpadded::encode_string(&sig));
    Ok(out)
}

/// Why a JWT was not accepted; shown by `tessera token inspect`, never sent
/// to a client (introspection only ever says `active: false`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("not a well-formed JWT")]
    Malformed,
    #[error("not an access token (typ is not at+jwt)")]
    NotAccessToken,
    #[error("uses a header parameter we do not understand (crit)")]
    Critical,
    #[error("signed by a key this server does not have")]
    UnknownKey,
    #[error("algorithm does not match the key")]
    AlgorithmMismatch,
    #[error("signature does not verify")]
    BadSignature,
    #[error("issued by another issuer")]
    WrongIssuer,
    #[error("expired at {0}")]
    Expired(i64),
    #[error("issued in the future ({0})")]
    IssuedInFuture(i64),
}

/// Signature and issuer only, with the key's own algorithm: time comes from
/// our clock, not jsonwebtoken's, and audience is the API's business.
pub(crate) fn validation(key: &SigningKey, issuer: &str) -> jsonwebtoken::Validation {
    let mut v = jsonwebtoken::Validation::new(key.alg().jsonwebtoken());
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    v.set_issuer(&[issuer]);
    v
}

/// Allowed clock skew for `iat` in the future, in seconds.
const LEEWAY: i64 = 60;

/// Verifies signature, type, issuer and time. `Err` carries the claims when
/// only the time check failed, so inspection can still show them.
pub fn verify(
    keys: &KeySet,
    issuer: &str,
    token: &str,
    now: i64,
) -> Result<AccessTokenClaims, (Rejection, Option<Box<AccessTokenClaims>>)> {
    if token.len() > MAX_JWT_LEN || token.bytes().filter(|b| *b == b'.').count() != 2 {
        return Err((Rejection::Malformed, None));
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| (Rejection::Malformed, None))?;
    let typ_ok = header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt"));
    if !typ_ok {
        return Err((Rejection::NotAccessToken, None));
    }
    if header.crit.is_some() {
        return Err((Rejection::Critical, None));
    }
    let key = header.kid.as_deref().and_then(|k| keys.get(k, now)).ok_or((Rejection::UnknownKey, None))?;
    if header.alg != key.alg().jsonwebtoken() {
        return Err((Rejection::AlgorithmMismatch, None));
    }
    let dk = key.decoding_key().map_err(|_| (Rejection::UnknownKey, None))?;
    let v = validation(key, issuer);
    let claims = match jsonwebtoken::decode::<AccessTokenClaims>(token, &dk, &v) {
        Ok(d) => d.claims,
        Err(e) => {
            use jsonwebtoken::errors::ErrorKind;
            let r = match e.kind() {
                ErrorKind::InvalidSignature => Rejection::BadSignature,
                ErrorKind::InvalidIssuer => Rejection::WrongIssuer,
                _ => Rejection::Malformed,
            };
            return Err((r, None));
        }
    };
    if now >= claims.exp {
        return Err((Rejection::Expired(claims.exp), Some(Box::new(claims))));
    }
    if claims.iat > now + LEEWAY {
        return Err((Rejection::IssuedInFuture(claims.iat), Some(Box::new(claims))));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Algorithm, SigningKey};

    fn facts() -> TokenFacts {
        TokenFacts {
            jti: "j1".into(),
            client_id: "c1".into(),
            subject: "c1".into(),
            scope: "a b".into(),
            audience: vec!["https://api".into()],
            issued_at: 1000,
            expires_at: 1900,
            auth_time: None,
            grant_id: None,
            jkt: None,
        }
    }

    fn keyset(alg: Algorithm) -> KeySet {
        let (k, _) = SigningKey::generate(alg, 1).unwrap_or_else(|e| panic!("{e}"));
        KeySet::new(vec![k], alg)
    }

    #[test]
    fn round_trip_each_algorithm_and_small() {
        for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
            let ks = keyset(alg);
            let t = encode(ks.active(1).unwrap_or_else(|| panic!("no key")), &claims_of("https://as", &facts()))
                .unwrap_or_default();
            if alg != Algorithm::RS256 {
                assert!(t.len() < 1024, "{alg:?} token is {} bytes", t.len());
            }
            let c = verify(&ks, "https://as", &t, 1500).map_err(|e| e.0);
            assert_eq!(c.map(|c| c.jti), Ok("j1".to_string()), "{alg:?}");
        }
    }

    #[test]
    fn rejections() {
        let ks = keyset(Algorithm::EdDSA);
        let t = encode(ks.active(1).unwrap_or_else(|| panic!("no key")), &claims_of("https://as", &facts()))
            .unwrap_or_default();
        let r = |tok: &str, iss: &str, now: i64| verify(&ks, iss, tok, now).err().map(|e| e.0);
        assert_eq!(r(&t, "https://as", 1900), Some(Rejection::Expired(1900)));
        assert_eq!(r(&t, "https://other", 1500), Some(Rejection::WrongIssuer));
        assert_eq!(r(&t, "https://as", 900), Some(Rejection::IssuedInFuture(1000)));
        assert_eq!(r("garbage", "https://as", 1500), Some(Rejection::Malformed));
        // Tamper with the payload: signature must fail.
        let mut parts: Vec<String> = t.split('.').map(String::from).collect();
        let mut claims = claims_of("https://as", &facts());
        claims.scope = Some("admin".into());
        parts[1] = Base64UrlUnpadded::encode_string(&serde_json::to_vec(&claims).unwrap_or_default());
        assert_eq!(r(&parts.join("."), "https://as", 1500), Some(Rejection::BadSignature));
        // Another server's key.
        let other = keyset(Algorithm::EdDSA);
        let t2 = encode(other.active(1).unwrap_or_else(|| panic!("no key")), &claims_of("https://as", &facts()))
            .unwrap_or_default();
        assert_eq!(r(&t2, "https://as", 1500), Some(Rejection::UnknownKey));
        // alg none.
        let none = format!("{}.{}.", Base64UrlUnpadded::encode_string(br#"{"alg":"none","typ":"at+jwt"}"#), parts[1]);
        assert!(r(&none, "https://as", 1500).is_some());
        assert_eq!(r(&"a.b.c".repeat(5000), "https://as", 1500), Some(Rejection::Malformed));
    }
}
