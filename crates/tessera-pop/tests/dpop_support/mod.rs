//! Proofs crafted independently of the crate's own signer: keys from
//! aws-lc-rs, signatures from jsonwebtoken, headers written as JSON by hand
//! (so that attacks can put anything in them).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair,
};
use base64ct::{Base64UrlUnpadded, Encoding};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tessera_pop::dpop::{DpopAlg, Expectation, IatWindow, NonceRule, TargetUri};
use tessera_pop::replay::MemoryReplayCache;

pub const NOW: i64 = 1_767_225_600;
pub const URL: &str = "https://as.example/oauth2/token";

pub fn b64(b: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(b)
}

/// A key pair as jsonwebtoken sees it, with its public JWK.
pub struct TestKey {
    pub alg: Algorithm,
    pub enc: EncodingKey,
    pub jwk: Value,
}

impl TestKey {
    pub fn ed25519() -> Self {
        let der = Ed25519KeyPair::generate_pkcs8v1(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
        let kp = Ed25519KeyPair::from_pkcs8(der.as_ref()).unwrap();
        let x = b64(kp.public_key().as_ref());
        Self {
            alg: Algorithm::EdDSA,
            enc: EncodingKey::from_ed_der(der.as_ref()),
            jwk: json!({"kty":"OKP","crv":"Ed25519","x":x}),
        }
    }

    pub fn es256() -> Self {
        Self::ec(&ECDSA_P256_SHA256_FIXED_SIGNING, Algorithm::ES256, "P-256")
    }

    pub fn es384() -> Self {
        Self::ec(&ECDSA_P384_SHA384_FIXED_SIGNING, Algorithm::ES384, "P-384")
    }

    fn ec(a: &'static aws_lc_rs::signature::EcdsaSigningAlgorithm, alg: Algorithm, crv: &str) -> Self {
        let der = EcdsaKeyPair::generate_pkcs8(a, &aws_lc_rs::rand::SystemRandom::new()).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(a, der.as_ref()).unwrap();
        let p = kp.public_key().as_ref();
        let n = (p.len() - 1) / 2;
        let jwk = json!({"kty":"EC","crv":crv,"x":b64(&p[1..=n]),"y":b64(&p[n + 1..])});
        Self { alg, enc: EncodingKey::from_ec_der(der.as_ref()), jwk }
    }

    /// RS256 or PS256 with a fresh 2048-bit key.
    pub fn rsa(alg: Algorithm) -> Self {
        let kp = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let pkcs8 = kp.as_der().unwrap();
        let pk = kp.public_key();
        let jwk = json!({
            "kty": "RSA",
            "n": b64(pk.modulus().big_endian_without_leading_zero()),
            "e": b64(pk.exponent().big_endian_without_leading_zero()),
        });
        Self { alg, enc: EncodingKey::from_rsa_der(pkcs1_of(pkcs8.as_ref())), jwk }
    }

    /// The standard proof header, through jsonwebtoken's own `Header`.
    pub fn header(&self) -> Header {
        let mut h = Header::new(self.alg);
        h.typ = Some("dpop+jwt".into());
        h.jwk = Some(serde_json::from_value(self.jwk.clone()).unwrap());
        h
    }

    /// A proof with the standard header.
    pub fn proof(&self, claims: &Value) -> String {
        jsonwebtoken::encode(&self.header(), claims, &self.enc).unwrap()
    }

    /// A proof with any header at all, signed by this key under its algorithm.
    pub fn craft(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &self.enc, self.alg).unwrap();
        format!("{input}.{sig}")
    }

    /// The standard header as JSON, to be altered by an attack.
    pub fn header_json(&self) -> Value {
        json!({"typ":"dpop+jwt","alg":alg_name(self.alg),"jwk":self.jwk})
    }
}

pub fn alg_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::EdDSA => "EdDSA",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::PS256 => "PS256",
        Algorithm::RS256 => "RS256",
        _ => "other",
    }
}

/// The RSAPrivateKey inside a PKCS#8 v1 PrivateKeyInfo (RFC 5208 §5):
/// SEQUENCE { INTEGER, AlgorithmIdentifier, OCTET STRING { key } }.
fn pkcs1_of(pkcs8: &[u8]) -> &[u8] {
    // Returns (content, rest) of the DER element at the start of `b`.
    fn element(b: &[u8]) -> (&[u8], &[u8]) {
        let (len, hdr) = match b[1] {
            l if l < 0x80 => (usize::from(l), 2),
            l => {
                let n = usize::from(l & 0x7f);
                (b[2..2 + n].iter().fold(0usize, |a, x| (a << 8) | usize::from(*x)), 2 + n)
            }
        };
        (&b[hdr..hdr + len], &b[hdr + len..])
    }
    let (info, _) = element(pkcs8);
    let (_, rest) = element(info); // version
    let (_, rest) = element(rest); // algorithm
    assert_eq!(rest[0], 0x04, "OCTET STRING");
    element(rest).0
}

/// Claims for a proof of `POST URL` at `NOW`.
pub fn claims(jti: &str) -> Value {
    json!({"jti": jti, "htm": "POST", "htu": URL, "iat": NOW})
}

/// Owns what an [`Expectation`] borrows.
pub struct Ctx {
    pub target: TargetUri,
    pub cache: MemoryReplayCache,
}

impl Ctx {
    pub fn new() -> Self {
        Self { target: TargetUri::new(URL).unwrap(), cache: MemoryReplayCache::new(1_000) }
    }

    /// `POST URL` at `NOW`, every algorithm, no token, no nonce.
    pub fn expect(&self) -> Expectation<'_> {
        Expectation {
            method: "POST",
            target: &self.target,
            access_token: None,
            bound_jkt: None,
            algorithms: &DpopAlg::ALL,
            iat_window: IatWindow::default(),
            nonce: NonceRule::NotUsed,
            now: NOW,
            replay: &self.cache,
        }
    }
}

/// Runs a future to completion on a fresh current-thread runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
}
