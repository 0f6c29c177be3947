//! RFC 7638 JWK thumbprints: the SHA-256 of a public key's required
//! members, in lexicographic order, as compact JSON, base64url without
//! padding. A DPoP token is bound to its key by this value (`cnf.jkt`,
//! RFC 9449 §6.1), so two encodings of one JWK (extra members such as
//! `kid`, `alg` or `use`, another member order) give the same thumbprint.
//!
//! Only public keys of the families DPoP uses have one here: `OKP`
//! (Ed25519), `EC` (P-256, P-384) and `RSA`. A symmetric (`oct`) key has
//! no business in a proof and is refused.

use aws_lc_rs::digest;
use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::Value;

/// The required members of a public JWK (RFC 7638 §3.2), borrowed from
/// wherever the key was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicJwk<'a> {
    /// RFC 8037 §2: `crv`, `kty`, `x`.
    Okp { crv: &'a str, x: &'a str },
    /// RFC 7518 §6.2.1: `crv`, `kty`, `x`, `y`.
    Ec { crv: &'a str, x: &'a str, y: &'a str },
    /// RFC 7518 §6.3.1: `e`, `kty`, `n`.
    Rsa { n: &'a str, e: &'a str },
}

/// The members a JWK may have that some key type requires, as read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Members<'a> {
    pub crv: Option<&'a str>,
    pub x: Option<&'a str>,
    pub y: Option<&'a str>,
    pub n: Option<&'a str>,
    pub e: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThumbprintError {
    #[error("a JWK must be a JSON object")]
    NotAnObject,
    #[error("key type {0:?} is not a public-key type we take (OKP, EC, RSA)")]
    KeyType(String),
    #[error("required member {0:?} is missing or not a string")]
    Missing(&'static str),
}

impl<'a> PublicJwk<'a> {
    /// Reads the required members of a JWK given as JSON. Other members
    /// (including private ones) are not looked at: refusing a private key
    /// is the caller's decision (the DPoP check does it).
    pub fn from_json(jwk: &'a Value) -> Result<Self, ThumbprintError> {
        let obj = jwk.as_object().ok_or(ThumbprintError::NotAnObject)?;
        let s = |name: &str| obj.get(name).and_then(Value::as_str);
        let kty = s("kty").ok_or(ThumbprintError::Missing("kty"))?;
        Self::from_members(kty, Members { crv: s("crv"), x: s("x"), y: s("y"), n: s("n"), e: s("e") })
    }

    /// The members of one of the server's own JWKs ([`tessera_proto::Jwk`]).
    pub fn from_proto(jwk: &'a tessera_proto::Jwk) -> Result<Self, ThumbprintError> {
        let m = Members {
            crv: jwk.crv.as_deref(),
            x: jwk.x.as_deref(),
            y: jwk.y.as_deref(),
            n: jwk.n.as_deref(),
            e: jwk.e.as_deref(),
        };
        Self::from_members(&jwk.kty, m)
    }

    /// `kty` picks which of the members are required.
    pub fn from_members(kty: &str, m: Members<'a>) -> Result<Self, ThumbprintError> {
        let need = |v: Option<&'a str>, name: &'static str| v.ok_or(ThumbprintError::Missing(name));
        match kty {
            "OKP" => Ok(Self::Okp { crv: need(m.crv, "crv")?, x: need(m.x, "x")? }),
            "EC" => Ok(Self::Ec { crv: need(m.crv, "crv")?, x: need(m.x, "x")?, y: need(m.y, "y")? }),
            "RSA" => Ok(Self::Rsa { n: need(m.n, "n")?, e: need(m.e, "e")? }),
            other => Err(ThumbprintError::KeyType(other.chars().take(16).collect())),
        }
    }

    /// The RFC 7638 §3.3 input: required members only, sorted, no
    /// whitespace; values are JSON strings (escaped like any other).
    pub fn canonical_json(&self) -> String {
        let q = |s: &str| Value::String(s.to_owned()).to_string();
        match *self {
            Self::Okp { crv, x } => format!(r#"{{"crv":{},"kty":"OKP","x":{}}}"#, q(crv), q(x)),
            Self::Ec { crv, x, y } => format!(r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#, q(crv), q(x), q(y)),
            Self::Rsa { n, e } => format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, q(e), q(n)),
        }
    }

    /// The SHA-256 thumbprint, base64url without padding (43 characters).
    pub fn thumbprint(&self) -> String {
        let d = digest::digest(&digest::SHA256, self.canonical_json().as_bytes());
        Base64UrlUnpadded::encode_string(d.as_ref())
    }
}

/// The SHA-256 thumbprint of a JWK given as JSON.
pub fn thumbprint(jwk: &Value) -> Result<String, ThumbprintError> {
    PublicJwk::from_json(jwk).map(|k| k.thumbprint())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn member_order_and_extra_members_do_not_matter() {
        let a = json!({"kty":"EC","crv":"P-256","x":"AAAA","y":"BBBB","kid":"k1","use":"sig"});
        let b = json!({"y":"BBBB","x":"AAAA","crv":"P-256","alg":"ES256","kty":"EC"});
        assert_eq!(thumbprint(&a), thumbprint(&b));
        assert_eq!(
            PublicJwk::from_json(&a).map(|k| k.canonical_json()),
            Ok(r#"{"crv":"P-256","kty":"EC","x":"AAAA","y":"BBBB"}"#.to_owned())
        );
    }

    #[test]
    fn unusable_jwks_are_refused() {
        assert_eq!(thumbprint(&json!({"kty":"oct","k":"c2VjcmV0"})), Err(ThumbprintError::KeyType("oct".into())));
        assert_eq!(thumbprint(&json!({"kty":"EC","crv":"P-256","x":"AA"})), Err(ThumbprintError::Missing("y")));
        assert_eq!(thumbprint(&json!({"kty":"RSA","n":"AA","e":7})), Err(ThumbprintError::Missing("e")));
        assert_eq!(thumbprint(&json!({"crv":"Ed25519","x":"AA"})), Err(ThumbprintError::Missing("kty")));
        assert_eq!(thumbprint(&json!(["OKP"])), Err(ThumbprintError::NotAnObject));
    }

    #[test]
    fn values_are_json_escaped() {
        let k = PublicJwk::Okp { crv: "a\"b", x: "x" };
        assert_eq!(k.canonical_json(), r#"{"crv":"a\"b","kty":"OKP","x":"x"}"#);
    }
}
