//! The client side: a DPoP key pair (Ed25519 or P-256) and a proof per
//! request (RFC 9449 §4.2). The key stays parsed and its header is built
//! once, so a proof costs one signature.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Serialize;

use super::{DPOP_TYP, DpopAlg, ath};
use crate::jwk_thumbprint::PublicJwk;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("DPoP keys are made for EdDSA and ES256 only, not {0}")]
    Algorithm(&'static str),
    #[error("key generation failed")]
    Generate,
    #[error("not a PKCS#8 {0} private key")]
    Parse(&'static str),
    #[error("signing failed")]
    Sign,
    #[error("claims could not be encoded")]
    Encode,
}

enum Pair {
    Ed(Ed25519KeyPair),
    Ec(EcdsaKeyPair),
}

/// A client's proof key. Debug shows the algorithm and thumbprint only.
pub struct ProofKey {
    alg: DpopAlg,
    pair: Pair,
    jwk: serde_json::Value,
    jkt: String,
    /// base64url of `{"typ":"dpop+jwt","alg":…,"jwk":{…}}`.
    header: String,
}

impl std::fmt::Debug for ProofKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofKey").field("alg", &self.alg).field("jkt", &self.jkt).finish_non_exhaustive()
    }
}

/// A fresh PKCS#8 private key for `alg` (EdDSA or ES256), to keep or to
/// load with [`ProofKey::from_pkcs8`]. Treat it as a secret.
pub fn generate_pkcs8(alg: DpopAlg) -> Result<Vec<u8>, KeyError> {
    let rng = SystemRandom::new();
    let doc = match alg {
        DpopAlg::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng),
        DpopAlg::ES256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng),
        other => return Err(KeyError::Algorithm(other.as_str())),
    };
    doc.map(|d| d.as_ref().to_vec()).map_err(|_| KeyError::Generate)
}

impl ProofKey {
    /// A new random key for `alg` (EdDSA or ES256).
    pub fn generate(alg: DpopAlg) -> Result<Self, KeyError> {
        Self::from_pkcs8(alg, &generate_pkcs8(alg)?)
    }

    pub fn from_pkcs8(alg: DpopAlg, der: &[u8]) -> Result<Self, KeyError> {
        let (pair, jwk) = match alg {
            DpopAlg::EdDSA => {
                let kp = Ed25519KeyPair::from_pkcs8(der).map_err(|_| KeyError::Parse("Ed25519"))?;
                let x = b64(kp.public_key().as_ref());
                (Pair::Ed(kp), serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x}))
            }
            DpopAlg::ES256 => {
                let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| KeyError::Parse("P-256"))?;
                // Uncompressed SEC1 point: 0x04 || x (32) || y (32).
                let p = kp.public_key().as_ref();
                let (Some(x), Some(y)) = (p.get(1..33), p.get(33..65)) else {
                    return Err(KeyError::Parse("P-256"));
                };
                let jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)});
                (Pair::Ec(kp), jwk)
            }
            other => return Err(KeyError::Algorithm(other.as_str())),
        };
        let jkt = PublicJwk::from_json(&jwk).map_err(|_| KeyError::Encode)?.thumbprint();
        let header = serde_json::json!({"typ": DPOP_TYP, "alg": alg.as_str(), "jwk": jwk});
        Ok(Self { alg, pair, jkt, header: b64(header.to_string().as_bytes()), jwk })
    }

    pub fn alg(&self) -> DpopAlg {
        self.alg
    }

    /// The public JWK the proofs carry.
    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.jwk
    }

    /// The RFC 7638 thumbprint: the `jkt` tokens are bound to, and the
    /// `dpop_jkt` of an authorization request (§10).
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.pair {
            Pair::Ed(kp) => Ok(kp.sign(msg).as_ref().to_vec()),
            Pair::Ec(kp) => kp.sign(&SystemRandom::new(), msg).map(|s| s.as_ref().to_vec()).map_err(|_| KeyError::Sign),
        }
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    jti: &'a str,
    htm: &'a str,
    htu: &'a str,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

/// A proof for one request (RFC 9449 §4.2). `htu` is the request URL; its
/// query and fragment are cut off here. `access_token`, when the request
/// presents one, gives `ath`; `nonce` is the server's last `DPoP-Nonce`;
/// `jti` must be unique per request (e.g. 16 random bytes, base64url).
pub fn make_proof(
    key: &ProofKey,
    htm: &str,
    htu: &str,
    access_token: Option<&str>,
    nonce: Option<&str>,
    now: i64,
    jti: &str,
) -> Result<String, KeyError> {
    let htu = htu.split(['?', '#']).next().unwrap_or(htu);
    let claims = Claims { jti, htm, htu, iat: now, ath: access_token.map(ath), nonce };
    let claims = serde_json::to_vec(&claims).map_err(|_| KeyError::Encode)?;
    let mut jws = format!("{}.{}", key.header, b64(&claims));
    let sig = key.sign(jws.as_bytes())?;
    jws.push('.');
    jws.push_str(&b64(&sig));
    Ok(jws)
}

fn b64(b: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(b)
}
