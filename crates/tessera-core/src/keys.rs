//! Signing keys: generation, sealing at rest under the master key, JWK export
//! (RFC 7517, RFC 7518 §6, RFC 8037 §2) and `kid`s that are RFC 7638
//! thumbprints, so two keys never share one.
//!
//! Keys stay parsed in memory: re-parsing PKCS#8 on every signature would
//! roughly double the cost of issuing a JWT.

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64ct::{Base64UrlUnpadded, Encoding};
use tessera_proto::{Jwk, JwkSet, Redacted};
use zeroize::Zeroizing;

use crate::random::Random;

/// JWS algorithms Tessera signs with (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    EdDSA,
    ES256,
    RS256,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "EdDSA" => Some(Self::EdDSA),
            "ES256" => Some(Self::ES256),
            "RS256" => Some(Self::RS256),
            _ => None,
        }
    }

    pub fn jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
            Self::RS256 => jsonwebtoken::Algorithm::RS256,
        }
    }
}

/// Stored by its JOSE name; an unknown name is refused when read.
impl serde::Serialize for Algorithm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Algorithm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown JWS algorithm {s:?}")))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed")]
    Generate,
    #[error("stored key {0} could not be parsed")]
    Parse(String),
    #[error("stored key {0} could not be decrypted: wrong master key or corrupted data")]
    Unseal(String),
    #[error("unknown algorithm {0}")]
    Algorithm(String),
    #[error("signing failed")]
    Sign,
}

enum Pair {
    Ed(Ed25519KeyPair),
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// A parsed private key with its public JWK and precomputed JWS header.
pub struct SigningKey {
    alg: Algorithm,
    pair: Pair,
    jwk: Jwk,
    /// base64url of `{"alg":…,"typ":"at+jwt","kid":…}`.
    at_jwt_header: String,
    /// base64url of `{"alg":…,"typ":"JWT","kid":…}` for ID tokens.
    id_token_header: String,
    activates_at: i64,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("alg", &self.alg).field("kid", &self.jwk.kid).finish()
    }
}

impl SigningKey {
    /// Generates a key; returns it and its PKCS#8 DER for sealing.
    /// (aws-lc draws key material from its own DRBG, not from [`Random`].)
    pub fn generate(alg: Algorithm, activates_at: i64) -> Result<(Self, Zeroizing<Vec<u8>>), KeyError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let der: Vec<u8> = match alg {
            Algorithm::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Generate)?.as_ref().to_vec(),
            Algorithm::ES256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| KeyError::Generate)?
                .as_ref()
                .to_vec(),
            Algorithm::RS256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .and_then(|k| k.as_der())
                .map_err(|_| KeyError::Generate)?
                .as_ref()
                .to_vec(),
        };
        let der = Zeroizing::new(der);
        let key = Self::from_pkcs8(alg, &der, activates_at)?;
        Ok((key, der))
    }

    pub fn from_pkcs8(alg: Algorithm, der: &[u8], activates_at: i64) -> Result<Self, KeyError> {
        let perr = |_| KeyError::Parse(alg.as_str().into());
        let (pair, mut jwk) = match alg {
            Algorithm::EdDSA => {
                let kp = Ed25519KeyPair::from_pkcs8(der).map_err(perr)?;
                let x = b64(kp.public_key().as_ref());
                (Pair::Ed(kp), jwk_base("OKP", alg, Some("Ed25519"), Some(x), None, None, None))
            }
            Algorithm::ES256 => {
                let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(perr)?;
                // Uncompressed SEC1 point: 0x04 || x (32) || y (32).
                let p = kp.public_key().as_ref();
                if p.len() != 65 {
                    return Err(KeyError::Parse("ES256".into()));
                }
                let (x, y) = (b64(&p[1..33]), b64(&p[33..65]));
                (Pair::Ec(kp), jwk_base("EC", alg, Some("P-256"), Some(x), Some(y), None, None))
            }
            Algorithm::RS256 => {
                let kp = RsaKeyPair::from_pkcs8(der).map_err(perr)?;
                let pk = kp.public_key();
                let n = b64(pk.modulus().big_endian_without_leading_zero());
                let e = b64(pk.exponent().big_endian_without_leading_zero());
                (Pair::Rsa(kp), jwk_base("RSA", alg, None, None, None, Some(n), Some(e)))
            }
        };
        jwk.kid = thumbprint(&jwk);
        let header = format!(r#"{{"alg":"{}","typ":"at+jwt","kid":"{}"}}"#, alg.as_str(), jwk.kid);
        let id_header = format!(r#"{{"alg":"{}","typ":"JWT","kid":"{}"}}"#, alg.as_str(), jwk.kid);
        Ok(Self {
            alg,
            pair,
            at_jwt_header: b64(header.as_bytes()),
            id_token_header: b64(id_header.as_bytes()),
            jwk,
            activates_at,
        })
    }

    pub fn alg(&self) -> Algorithm {
        self.alg
    }
    pub fn kid(&self) -> &str {
        &self.jwk.kid
    }
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }
    pub fn activates_at(&self) -> i64 {
        self.activates_at
    }
    pub fn at_jwt_header(&self) -> &str {
        &self.at_jwt_header
    }
    pub fn id_token_header(&self) -> &str {
        &self.id_token_header
    }

    /// Signs a JWS signing input; ES256 signatures are the fixed `r || s` form.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.pair {
            Pair::Ed(kp) => Ok(kp.sign(msg).as_ref().to_vec()),
            Pair::Ec(kp) => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                kp.sign(&rng, msg).map(|s| s.as_ref().to_vec()).map_err(|_| KeyError::Sign)
            }
            Pair::Rsa(kp) => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig).map_err(|_| KeyError::Sign)?;
                Ok(sig)
            }
        }
    }

    /// The key for verifying with `jsonwebtoken`, built from the public JWK.
    pub fn decoding_key(&self) -> Result<jsonwebtoken::DecodingKey, KeyError> {
        let j = &self.jwk;
        let perr = |_| KeyError::Parse(j.kid.clone());
        match self.alg {
            Algorithm::EdDSA => {
                jsonwebtoken::DecodingKey::from_ed_components(j.x.as_deref().unwrap_or_default()).map_err(perr)
            }
            Algorithm::ES256 => jsonwebtoken::DecodingKey::from_ec_components(
                j.x.as_deref().unwrap_or_default(),
                j.y.as_deref().unwrap_or_default(),
            )
            .map_err(perr),
            Algorithm::RS256 => jsonwebtoken::DecodingKey::from_rsa_components(
                j.n.as_deref().unwrap_or_default(),
                j.e.as_deref().unwrap_or_default(),
            )
            .map_err(perr),
        }
    }
}

fn b64(b: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(b)
}

fn jwk_base(
    kty: &str,
    alg: Algorithm,
    crv: Option<&str>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
) -> Jwk {
    Jwk {
        kty: kty.into(),
        kid: String::new(),
        use_: "sig".into(),
        alg: alg.as_str().into(),
        crv: crv.map(Into::into),
        x,
        y,
        n,
        e,
    }
}

/// RFC 7638 §3: SHA-256 over the required members in lexicographic order.
pub fn thumbprint(j: &Jwk) -> String {
    let s = |o: &Option<String>| o.clone().unwrap_or_default();
    let canonical = match j.kty.as_str() {
        "OKP" => format!(r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#, s(&j.crv), s(&j.x)),
        "EC" => format!(r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#, s(&j.crv), s(&j.x), s(&j.y)),
        _ => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, s(&j.e), s(&j.n)),
    };
    b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()).as_ref())
}

/// The 256-bit key that encrypts signing keys at rest (AES-256-GCM).
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MasterKey").field(&Redacted).finish()
    }
}

impl MasterKey {
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(Zeroizing::new(b))
    }

    /// A 256-bit key for one purpose (HMAC-SHA256 of the label), so the
    /// master key itself only ever encrypts.
    pub fn derive(&self, label: &str) -> Zeroizing<[u8; 32]> {
        let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, self.0.as_ref());
        let tag = aws_lc_rs::hmac::sign(&k, label.as_bytes());
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(tag.as_ref());
        out
    }

    fn aead(&self) -> Result<LessSafeKey, KeyError> {
        UnboundKey::new(&AES_256_GCM, self.0.as_ref()).map(LessSafeKey::new).map_err(|_| KeyError::Generate)
    }

    /// `nonce || ciphertext || tag`, with `aad` (the key's id) bound in so a
    /// sealed key cannot be swapped onto another row.
    pub fn seal(&self, rng: &dyn Random, plaintext: &[u8], aad: &str) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce);
        let mut buf = plaintext.to_vec();
        self.aead()?
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| KeyError::Sign)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], aad: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(KeyError::Unseal(aad.into()));
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KeyError::Unseal(aad.into()))?;
        let mut buf = Zeroizing::new(ct.to_vec());
        let len = self
            .aead()?
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| KeyError::Unseal(aad.into()))?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

/// A superseded key stays published this long after its successor started
/// signing: by then every token it signed has expired.
pub const RETIRE_AFTER: i64 = crate::token::MAX_ACCESS_TOKEN_TTL as i64;

/// Where a key is in its life, at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Published, not signing yet: resource servers learn it first.
    Next,
    /// Signs new tokens.
    Active,
    /// Published so the tokens it signed still verify.
    Previous,
    /// No token it signed can still be valid; no longer published.
    Retired,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Previous => "previous",
            Self::Retired => "retired",
        }
    }
}

/// The signing keys and the algorithm new tokens use. At any time the key
/// of that algorithm activated most recently signs; keys activating later
/// are already published; older keys stay published until [`RETIRE_AFTER`]
/// has passed since they were superseded.
#[derive(Debug, Clone)]
pub struct KeySet {
    alg: Algorithm,
    /// Sorted by activation time.
    keys: Vec<Arc<SigningKey>>,
}

impl KeySet {
    /// `keys` in the store's order; ties in activation time keep it, so the
    /// key inserted last wins.
    pub fn new(mut keys: Vec<SigningKey>, alg: Algorithm) -> Self {
        keys.sort_by_key(|k| k.activates_at); // stable
        Self { alg, keys: keys.into_iter().map(Arc::new).collect() }
    }

    /// The key that signs access tokens at `now`, if any is active yet.
    pub fn active(&self, now: i64) -> Option<&SigningKey> {
        self.active_for(self.alg, now)
    }

    /// The key of `alg` that signs at `now` (ID tokens choose their algorithm per client).
    pub fn active_for(&self, alg: Algorithm, now: i64) -> Option<&SigningKey> {
        self.keys.iter().rev().find(|k| k.alg == alg && k.activates_at <= now).map(|k| k.as_ref())
    }

    pub fn status(&self, key: &SigningKey, now: i64) -> KeyStatus {
        if key.activates_at > now {
            return KeyStatus::Next;
        }
        if self.active_for(key.alg, now).is_some_and(|a| a.kid() == key.kid()) {
            return KeyStatus::Active;
        }
        // Superseded at the activation of the first later key of its algorithm.
        let superseded = self
            .keys
            .iter()
            .filter(|k| k.alg == key.alg && k.activates_at > key.activates_at && k.activates_at <= now)
            .map(|k| k.activates_at)
            .min();
        match superseded {
            Some(t) if now >= t.saturating_add(RETIRE_AFTER) => KeyStatus::Retired,
            _ => KeyStatus::Previous,
        }
    }

    /// A published key by `kid`, for verification.
    pub fn get(&self, kid: &str, now: i64) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid() == kid && self.status(k, now) != KeyStatus::Retired).map(|k| k.as_ref())
    }

    pub fn jwks(&self, now: i64) -> JwkSet {
        JwkSet { keys: self.published(now).map(|k| k.jwk.clone()).collect() }
    }

    pub fn algorithms(&self, now: i64) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for k in self.published(now) {
            let a = k.alg.as_str().to_string();
            if !v.contains(&a) {
                v.push(a);
            }
        }
        v
    }

    /// Every key with its status, oldest first (for `tessera key list`).
    pub fn describe(&self, now: i64) -> Vec<(&SigningKey, KeyStatus)> {
        self.keys.iter().map(|k| (k.as_ref(), self.status(k, now))).collect()
    }

    fn published(&self, now: i64) -> impl Iterator<Item = &SigningKey> {
        self.keys.iter().filter(move |k| self.status(k, now) != KeyStatus::Retired).map(|k| k.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn every_algorithm_round_trips_through_pkcs8() {
        for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
            let (k, der) = SigningKey::generate(alg, 1).unwrap_or_else(|e| panic!("{e}"));
            let again = SigningKey::from_pkcs8(alg, &der, 1).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(k.kid(), again.kid());
            assert_eq!(k.kid().len(), 43);
            assert!(k.sign(b"x").is_ok());
        }
    }

    #[test]
    fn sealing_binds_the_key_id() {
        let mk = MasterKey::from_bytes([7; 32]);
        let rng = SeededRandom::new(3);
        let sealed = mk.seal(&rng, b"private", "kid-1").unwrap_or_default();
        assert_eq!(mk.open(&sealed, "kid-1").map(|v| v.to_vec()).ok(), Some(b"private".to_vec()));
        assert!(mk.open(&sealed, "kid-2").is_err());
        assert!(MasterKey::from_bytes([8; 32]).open(&sealed, "kid-1").is_err());
        assert!(mk.open(&sealed[..10], "kid-1").is_err());
    }

    #[test]
    fn rotation_publishes_first_signs_later_and_retires_a_day_after() {
        let key = |t| SigningKey::generate(Algorithm::EdDSA, t).map(|k| k.0).unwrap_or_else(|e| panic!("{e}"));
        let (a, b) = (key(100), key(1000));
        let (ka, kb) = (a.kid().to_string(), b.kid().to_string());
        let set = KeySet::new(vec![b, a], Algorithm::EdDSA);
        let active = |t| set.active(t).map(|k| k.kid().to_string());
        assert_eq!(active(50), None);
        assert_eq!(active(500), Some(ka.clone()));
        assert_eq!(set.jwks(500).keys.len(), 2, "the next key is published before it signs");
        assert_eq!(active(1000), Some(kb.clone()));
        assert!(set.get(&ka, 1000 + RETIRE_AFTER - 1).is_some(), "old tokens still verify");
        assert!(set.get(&ka, 1000 + RETIRE_AFTER).is_none(), "retired a day after being superseded");
        assert_eq!(set.jwks(1000 + RETIRE_AFTER).keys.len(), 1);
        let statuses: Vec<KeyStatus> = set.describe(500).into_iter().map(|(_, s)| s).collect();
        assert_eq!(statuses, vec![KeyStatus::Active, KeyStatus::Next]);
    }

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1 example key.
        let j = Jwk {
            kty: "RSA".into(),
            kid: String::new(),
            use_: "sig".into(),
            alg: "RS256".into(),
            crv: None,
            x: None,
            y: None,
            n: Some("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into()),
            e: Some("AQAB".into()),
        };
        assert_eq!(thumbprint(&j), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }
}
