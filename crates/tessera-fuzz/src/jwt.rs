//! JWT access tokens (RFC 9068) as the authorization server checks them
//! (`tessera_core::token::jwt::verify`, also the ID token hint) and as a
//! resource server does (`tessera_guard::jwt`).

use std::sync::OnceLock;

use base64ct::{Base64UrlUnpadded, Encoding};
use tessera_core::keys::{Algorithm, KeySet, SigningKey};
use tessera_core::token::{id_token, jwt as core_jwt};
use tessera_guard::jwt as guard_jwt;
use tessera_proto::Jwk;

pub const ISSUER: &str = "https://as.example";
pub const AUDIENCE: &str = "https://api.example";
/// The harness's "now": corpus tokens carry `exp`/`iat` around it.
pub const NOW: i64 = 1_800_000_000;
/// In a signed-mode header, replaced by the fixed key's `kid`.
pub const KID_PLACEHOLDER: &str = "$KID";

struct Fixture {
    keys: KeySet,
    jwks: Vec<Jwk>,
    kid: String,
}

/// A fixed Ed25519 key (PKCS#8 v1 of the seed 0x01…0x20), so a token in the
/// corpus verifies in every run.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut der =
            vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
        der.extend(1..=32u8);
        let key = SigningKey::from_pkcs8(Algorithm::EdDSA, &der, 0).expect("fixed Ed25519 key");
        let kid = key.kid().to_string();
        let jwks = vec![key.jwk().clone()];
        Fixture { keys: KeySet::new(vec![key], Algorithm::EdDSA), jwks, kid }
    })
}

/// A compact JWS of arbitrary header and payload bytes under the fixed key.
pub fn sign(header: &[u8], payload: &[u8]) -> String {
    let f = fixture();
    let header = String::from_utf8_lossy(header).replace(KID_PLACEHOLDER, &f.kid);
    let mut t = format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(header.as_bytes()),
        Base64UrlUnpadded::encode_string(payload)
    );
    let key = f.keys.get(&f.kid, NOW).expect("fixture key");
    let sig = key.sign(t.as_bytes()).expect("sign");
    t.push('.');
    t.push_str(&Base64UrlUnpadded::encode_string(&sig));
    t
}

/// Byte 0 even: the rest is a raw token. Odd: the rest is a JOSE header,
/// `\n`, and a payload, signed here so the claim checks behind the signature
/// are reached. Whatever either verifier accepts satisfies RFC 9068 §4, and
/// the guard never accepts what the authorization server refuses.
pub fn jwt(data: &[u8]) {
    let Some((mode, rest)) = data.split_first() else { return };
    let token = if mode % 2 == 0 {
        match std::str::from_utf8(rest) {
            Ok(t) => t.to_string(),
            Err(_) => return,
        }
    } else {
        let (header, payload) = crate::first_line(rest);
        sign(header, payload)
    };
    let f = fixture();
    let core = core_jwt::verify(&f.keys, ISSUER, &token, NOW);
    if let Ok(c) = &core {
        assert_eq!(c.iss, ISSUER);
        assert!(NOW < c.exp && c.iat <= NOW + 60, "core accepted exp {} iat {}", c.exp, c.iat);
        assert!(token.len() <= core_jwt::MAX_JWT_LEN);
    }
    let guard = guard_jwt::check_with_keys(&token, &f.jwks, ISSUER, AUDIENCE, NOW);
    if let Ok(g) = &guard {
        assert_eq!(g.iss, ISSUER);
        assert!(g.aud.contains(AUDIENCE) && NOW < g.exp && g.iat <= NOW && g.cnf.is_none());
        assert!(g.nbf.is_none_or(|n| n <= NOW));
        match &core {
            Ok(c) => {
                assert_eq!((&c.jti, &c.sub, &c.client_id, c.exp, c.iat), (&g.jti, &g.sub, &g.client_id, g.exp, g.iat));
                assert_eq!(c.scope, g.scope);
            }
            // jsonwebtoken types some header fields (`cty`, `x5t`) the guard
            // ignores: stricter parsing in core is fine, a different verdict
            // on key, signature, type, issuer or time is not.
            Err((r, _)) => {
                assert!(matches!(r, core_jwt::Rejection::Malformed), "guard accepted what core refuses: {r:?}")
            }
        }
    }
    if let Some(h) = id_token::verify_hint(&f.keys, ISSUER, &token, NOW) {
        assert_eq!(h.iss, ISSUER);
        assert!(token.len() <= core_jwt::MAX_JWT_LEN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The harness is only worth running if its well-formed tokens get past
    /// both verifiers; the corpus's raw valid token was signed by the same key.
    #[test]
    fn valid_tokens_reach_acceptance() {
        let claims = format!(
            r#"{{"iss":"{ISSUER}","sub":"u","aud":"{AUDIENCE}","exp":{},"iat":{NOW},"jti":"j","client_id":"c"}}"#,
            NOW + 60
        );
        let signed = sign(br#"{"alg":"EdDSA","typ":"at+jwt","kid":"$KID"}"#, claims.as_bytes());
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/jwt/seed-raw-valid");
        let raw = std::fs::read(dir).expect("seed-raw-valid");
        let raw = std::str::from_utf8(&raw[1..]).expect("utf-8").to_string();
        for t in [signed, raw] {
            let f = fixture();
            assert!(core_jwt::verify(&f.keys, ISSUER, &t, NOW).is_ok(), "core refused {t}");
            assert!(guard_jwt::check_with_keys(&t, &f.jwks, ISSUER, AUDIENCE, NOW).is_ok(), "guard refused {t}");
        }
    }
}
