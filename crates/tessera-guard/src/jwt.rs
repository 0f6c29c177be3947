//! JWT access-token validation, RFC 9068 §4, done by hand on top of
//! aws-lc-rs so that nothing in the token chooses how it is checked.
//!
//! The algorithm comes from our configuration and the key's own entry in the
//! JWKS, never from the token: `alg: none` (any casing), HMAC with a public
//! key as secret, keys embedded or referenced by the header (`jwk`, `jku`,
//! `x5u`, `x5c`) and unknown `crit` extensions are all refused before any
//! key is looked up. Duplicate claim or header names are refused by serde.

use std::sync::Arc;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use tessera_proto::Audience;

use crate::jwks::VerifyKey;

/// Far above any access token we issue (< 1 KB); anything longer is refused
/// before it is even split.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
const MAX_HEADER_LEN: usize = 1024;

/// The signature algorithms a guard can accept (RFC 7518 §3.1, RFC 8037).
/// There is deliberately no HMAC and no `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    EdDSA,
    ES256,
    RS256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256];

    /// Exact, case-sensitive names (RFC 7515 §4.1.1): `eddsa` is not `EdDSA`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "EdDSA" => Some(Self::EdDSA),
            "ES256" => Some(Self::ES256),
            "RS256" => Some(Self::RS256),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
        }
    }
}

/// Why a token was refused. Logged at debug for the API owner; the client
/// only ever sees `invalid_token`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("token is longer than {MAX_TOKEN_LEN} bytes")]
    TooLong,
    #[error("not a compact JWS")]
    Malformed,
    #[error("algorithm {0:?} is not accepted")]
    Algorithm(String),
    #[error("typ is not at+jwt: not an access token")]
    NotAccessToken,
    #[error("header carries a key or key reference ({0}); keys come only from the issuer's JWKS")]
    EmbeddedKey(&'static str),
    #[error("header has crit extensions we do not understand")]
    Critical,
    #[error("no kid, or a kid not in the issuer's JWKS")]
    UnknownKey,
    #[error("the key for this kid is not a {0} key")]
    AlgorithmMismatch(&'static str),
    #[error("signature does not verify")]
    BadSignature,
    #[error("claims are not valid RFC 9068 claims")]
    BadClaims,
    #[error("issued by {0:?}, not our issuer")]
    WrongIssuer(String),
    #[error("audience does not include this API")]
    WrongAudience,
    #[error("expired")]
    Expired,
    #[error("not valid yet (nbf or iat in the future)")]
    NotYetValid,
    #[error("sender-constrained (cnf) token presented as a bearer token")]
    SenderConstrained,
    #[error("revoked")]
    Revoked,
    #[error("token presented with the DPoP scheme is not bound to a key (no cnf.jkt)")]
    NotBound,
    #[error("introspection says the token is not active")]
    Inactive,
}

/// The JOSE header fields we read, and the ones whose mere presence is an
/// attack on a resource server that trusts only its issuer's JWKS.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
    #[serde(default)]
    jwk: Option<IgnoredAny>,
    #[serde(default)]
    jku: Option<IgnoredAny>,
    #[serde(default)]
    x5u: Option<IgnoredAny>,
    #[serde(default)]
    x5c: Option<IgnoredAny>,
}

/// RFC 9068 §2.2 claims. `iss sub aud exp iat jti client_id` are required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// Tessera's grant (sign-in) id: revoking the grant revokes the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// RFC 7800 confirmation: the token is bound to a key (DPoP, mTLS) and
    /// must not be accepted as a plain bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<serde_json::Value>,
}

impl Claims {
    /// RFC 9449 §6.1 `cnf.jkt`: the thumbprint of the key the token is bound to.
    pub fn jkt(&self) -> Option<&str> {
        self.cnf.as_ref()?.get("jkt")?.as_str()
    }
}

/// What a header says, checked, before the key is known.
pub(crate) struct Parsed<'t> {
    pub alg: Algorithm,
    pub kid: String,
    signing_input: &'t str,
    payload: &'t str,
    signature: &'t str,
}

/// Structure and header checks; cheap, and done before any key lookup so
/// junk never triggers a JWKS fetch.
pub(crate) fn parse<'t>(token: &'t str, allowed: &[Algorithm]) -> Result<Parsed<'t>, Invalid> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Invalid::TooLong);
    }
    let (signing_input, signature) = token.rsplit_once('.').ok_or(Invalid::Malformed)?;
    let (header, payload) = signing_input.split_once('.').ok_or(Invalid::Malformed)?;
    if payload.contains('.') || header.len() > MAX_HEADER_LEN {
        return Err(Invalid::Malformed);
    }
    let header = Base64UrlUnpadded::decode_vec(header).map_err(|_| Invalid::Malformed)?;
    let header: Header = serde_json::from_slice(&header).map_err(|_| Invalid::Malformed)?;
    let alg = Algorithm::from_name(&header.alg)
        .filter(|a| allowed.contains(a))
        .ok_or_else(|| Invalid::Algorithm(header.alg.chars().take(16).collect()))?;
    for (present, name) in [
        (header.jwk.is_some(), "jwk"),
        (header.jku.is_some(), "jku"),
        (header.x5u.is_some(), "x5u"),
        (header.x5c.is_some(), "x5c"),
    ] {
        if present {
            return Err(Invalid::EmbeddedKey(name));
        }
    }
    if header.crit.is_some() {
        return Err(Invalid::Critical);
    }
    // RFC 9068 §4: "application/at+jwt", the prefix optional (RFC 7515 §4.1.9).
    let typ = header.typ.as_deref().unwrap_or("");
    let typ = typ.strip_prefix("application/").unwrap_or(typ);
    if !typ.eq_ignore_ascii_case("at+jwt") {
        return Err(Invalid::NotAccessToken);
    }
    let kid = header.kid.ok_or(Invalid::UnknownKey)?;
    Ok(Parsed { alg, kid, signing_input, payload, signature })
}

/// What the claims must say for this API.
#[derive(Debug, Clone)]
pub(crate) struct Expect {
    pub issuer: String,
    pub audience: String,
    pub leeway: i64,
}

/// Signature, then claims. The key was found by `kid`; its algorithm must
/// be the header's, so one key never verifies under two algorithms.
pub(crate) fn verify(p: &Parsed<'_>, key: &VerifyKey, expect: &Expect, now: i64) -> Result<Arc<Claims>, Invalid> {
    if key.alg != p.alg {
        return Err(Invalid::AlgorithmMismatch(key.alg.as_str()));
    }
    let sig = Base64UrlUnpadded::decode_vec(p.signature).map_err(|_| Invalid::Malformed)?;
    key.key.verify_sig(p.signing_input.as_bytes(), &sig).map_err(|_| Invalid::BadSignature)?;
    let payload = Base64UrlUnpadded::decode_vec(p.payload).map_err(|_| Invalid::Malformed)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| Invalid::BadClaims)?;
    check_claims_bound_ok(&claims, expect, now)?;
    Ok(Arc::new(claims))
}

/// The whole offline check of RFC 9068 §4 (header, the key named by `kid`
/// among `keys`, signature, claims) without the key cache or network: the
/// entry point of the `tessera-fuzz` harness, not API.
#[doc(hidden)]
pub fn check_with_keys(
    token: &str,
    keys: &[tessera_proto::Jwk],
    issuer: &str,
    audience: &str,
    now: i64,
) -> Result<Arc<Claims>, Invalid> {
    let p = parse(token, &Algorithm::ALL)?;
    let jwk = keys.iter().find(|k| k.kid == p.kid).ok_or(Invalid::UnknownKey)?;
    let key = crate::jwks::parse_jwk(jwk, &Algorithm::ALL).ok_or(Invalid::UnknownKey)?;
    let expect = Expect { issuer: issuer.to_string(), audience: audience.to_string(), leeway: 0 };
    let claims = verify(&p, &key, &expect, now)?;
    if claims.cnf.is_some() {
        return Err(Invalid::SenderConstrained);
    }
    Ok(claims)
}

/// The claim checks of RFC 9068 §4 steps 4–8 (plus `nbf`, RFC 7519 §4.1.5);
/// also re-run on every cache hit for the time-dependent ones.
/// A bound token (`cnf`) is refused: it is not a bearer token.
pub(crate) fn check_claims(c: &Claims, expect: &Expect, now: i64) -> Result<(), Invalid> {
    check_claims_bound_ok(c, expect, now)?;
    if c.cnf.is_some() {
        return Err(Invalid::SenderConstrained);
    }
    Ok(())
}

/// [`check_claims`] without the `cnf` refusal: the caller decides, by the
/// request's scheme and proof, whether a bound token is acceptable.
pub(crate) fn check_claims_bound_ok(c: &Claims, expect: &Expect, now: i64) -> Result<(), Invalid> {
    if c.iss != expect.issuer {
        return Err(Invalid::WrongIssuer(c.iss.chars().take(64).collect()));
    }
    if !c.aud.contains(&expect.audience) {
        return Err(Invalid::WrongAudience);
    }
    check_time(c, expect.leeway, now)
}

pub(crate) fn check_time(c: &Claims, leeway: i64, now: i64) -> Result<(), Invalid> {
    if now >= c.exp.saturating_add(leeway) {
        return Err(Invalid::Expired);
    }
    if c.nbf.unwrap_or(i64::MIN) > now.saturating_add(leeway) || c.iat > now.saturating_add(leeway) {
        return Err(Invalid::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        Base64UrlUnpadded::encode_string(s.as_bytes())
    }

    fn token(header: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64("{}"))
    }

    #[test]
    fn header_attacks_are_refused_before_any_key_lookup() {
        let all = Algorithm::ALL;
        let cases: &[(&str, Invalid)] = &[
            (r#"{"alg":"none","typ":"at+jwt","kid":"k"}"#, Invalid::Algorithm("none".into())),
            (r#"{"alg":"NONE","typ":"at+jwt","kid":"k"}"#, Invalid::Algorithm("NONE".into())),
            (r#"{"alg":"HS256","typ":"at+jwt","kid":"k"}"#, Invalid::Algorithm("HS256".into())),
            (r#"{"alg":"eddsa","typ":"at+jwt","kid":"k"}"#, Invalid::Algorithm("eddsa".into())),
            (r#"{"alg":"EdDSA","typ":"JWT","kid":"k"}"#, Invalid::NotAccessToken),
            (r#"{"alg":"EdDSA","kid":"k"}"#, Invalid::NotAccessToken),
            (r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k","jwk":{"kty":"OKP"}}"#, Invalid::EmbeddedKey("jwk")),
            (r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k","jku":"https://x"}"#, Invalid::EmbeddedKey("jku")),
            (r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k","x5u":"https://x"}"#, Invalid::EmbeddedKey("x5u")),
            (r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k","crit":["exp"]}"#, Invalid::Critical),
            (r#"{"alg":"EdDSA","typ":"at+jwt"}"#, Invalid::UnknownKey),
            (r#"{"alg":"EdDSA","alg":"none","typ":"at+jwt","kid":"k"}"#, Invalid::Malformed),
        ];
        for (h, want) in cases {
            assert_eq!(parse(&token(h), &all).err().as_ref(), Some(want), "{h}");
        }
        assert!(parse(&token(r#"{"alg":"EdDSA","typ":"application/AT+JWT","kid":"k"}"#), &all).is_ok());
        let only_ed = [Algorithm::EdDSA];
        assert_eq!(
            parse(&token(r#"{"alg":"RS256","typ":"at+jwt","kid":"k"}"#), &only_ed).err(),
            Some(Invalid::Algorithm("RS256".into()))
        );
        for junk in ["", "a", "a.b", "a.b.c.d", "!!.e30.x", "e30..", &"a".repeat(MAX_TOKEN_LEN + 1)] {
            assert!(parse(junk, &all).is_err(), "{junk:.20}");
        }
    }

    #[test]
    fn claim_checks() {
        let expect = Expect { issuer: "https://as".into(), audience: "https://api".into(), leeway: 30 };
        let good = Claims {
            iss: "https://as".into(),
            sub: "s".into(),
            aud: Audience::Many(vec!["https://other".into(), "https://api".into()]),
            exp: 1_000,
            iat: 900,
            jti: "j".into(),
            client_id: "c".into(),
            nbf: None,
            scope: None,
            auth_time: None,
            grant_id: None,
            cnf: None,
        };
        assert_eq!(check_claims(&good, &expect, 950), Ok(()));
        assert_eq!(check_claims(&good, &expect, 1_029), Ok(()), "within leeway");
        assert_eq!(check_claims(&good, &expect, 1_030), Err(Invalid::Expired));
        assert_eq!(check_claims(&good, &expect, 869), Err(Invalid::NotYetValid));
        let with = |f: &dyn Fn(&mut Claims)| {
            let mut c = good.clone();
            f(&mut c);
            check_claims(&c, &expect, 950)
        };
        assert_eq!(with(&|c| c.iss = "https://evil".into()), Err(Invalid::WrongIssuer("https://evil".into())));
        assert_eq!(with(&|c| c.aud = Audience::Many(vec!["https://other".into()])), Err(Invalid::WrongAudience));
        assert_eq!(with(&|c| c.aud = Audience::One("https://api/".into())), Err(Invalid::WrongAudience));
        assert_eq!(with(&|c| c.nbf = Some(2_000)), Err(Invalid::NotYetValid));
        assert_eq!(with(&|c| c.cnf = Some(serde_json::json!({"jkt": "x"}))), Err(Invalid::SenderConstrained));
        // Duplicate claims are ambiguous: refused, not "last one wins".
        let dup = r#"{"iss":"https://as","sub":"s","aud":"https://api","exp":1000,"exp":9999,"iat":1,"jti":"j","client_id":"c"}"#;
        assert!(serde_json::from_str::<Claims>(dup).is_err());
    }
}
