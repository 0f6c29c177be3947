//! The JOSE side of a proof: its header, the public key in `jwk`, and the
//! signature, checked with aws-lc-rs directly so that the algorithm is
//! chosen by our allow-list and the key family, never by the proof alone.

use aws_lc_rs::signature::{self, RsaParameters, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

use super::{DpopAlg, DpopError};
use crate::jwk_thumbprint::{Members, PublicJwk};

/// The header members we read. Duplicate names are refused by serde, so a
/// header cannot say two things about one member.
#[derive(Deserialize)]
pub(super) struct Header {
    pub alg: String,
    #[serde(default)]
    pub typ: Option<String>,
    #[serde(default)]
    pub jwk: Option<RawJwk>,
    #[serde(default, deserialize_with = "present")]
    pub crit: bool,
}

/// The `jwk` header member. Private members are noted by presence, whatever
/// their value (even `null`): a proof that carries one is refused, not
/// "cleaned" (RFC 9449 §4.2, §4.3 point 7).
#[derive(Deserialize)]
pub(super) struct RawJwk {
    #[serde(default)]
    kty: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default, deserialize_with = "present")]
    d: bool,
    #[serde(default, deserialize_with = "present")]
    p: bool,
    #[serde(default, deserialize_with = "present")]
    q: bool,
    #[serde(default, deserialize_with = "present")]
    dp: bool,
    #[serde(default, deserialize_with = "present")]
    dq: bool,
    #[serde(default, deserialize_with = "present")]
    qi: bool,
    #[serde(default, deserialize_with = "present")]
    oth: bool,
    #[serde(default, deserialize_with = "present")]
    k: bool,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

impl RawJwk {
    pub fn has_private_members(&self) -> bool {
        self.d || self.p || self.q || self.dp || self.dq || self.qi || self.oth || self.k
    }

    /// The RFC 7638 members (for the thumbprint), if the key type is one we
    /// take and its required members are there.
    pub fn public(&self) -> Result<PublicJwk<'_>, DpopError> {
        let m = Members {
            crv: self.crv.as_deref(),
            x: self.x.as_deref(),
            y: self.y.as_deref(),
            n: self.n.as_deref(),
            e: self.e.as_deref(),
        };
        PublicJwk::from_members(self.kty.as_deref().unwrap_or(""), m).map_err(|_| DpopError::BadKey)
    }
}

/// A public key ready to check one signature under one algorithm.
pub(super) enum VerifyKey {
    Raw(&'static dyn VerificationAlgorithm, Vec<u8>),
    Rsa(&'static RsaParameters, Vec<u8>, Vec<u8>),
}

impl VerifyKey {
    /// The key for `alg`, which must match the JWK's family and curve (an
    /// ES256 proof with a P-384 key, or EdDSA with Ed448, is refused).
    pub fn new(alg: DpopAlg, jwk: &PublicJwk<'_>) -> Result<Self, DpopError> {
        let dec = |s: &str| Base64UrlUnpadded::decode_vec(s).map_err(|_| DpopError::BadKey);
        let ec_point = |x: &str, y: &str, len: usize| -> Result<Vec<u8>, DpopError> {
            let (x, y) = (dec(x)?, dec(y)?);
            if x.len() != len || y.len() != len {
                return Err(DpopError::BadKey);
            }
            // Uncompressed SEC1 point; aws-lc checks it is on the curve.
            Ok([&[4u8][..], &x, &y].concat())
        };
        match (alg, *jwk) {
            (DpopAlg::EdDSA, PublicJwk::Okp { crv: "Ed25519", x }) => {
                let x = dec(x)?;
                if x.len() != 32 {
                    return Err(DpopError::BadKey);
                }
                Ok(Self::Raw(&signature::ED25519, x))
            }
            (DpopAlg::ES256, PublicJwk::Ec { crv: "P-256", x, y }) => {
                Ok(Self::Raw(&signature::ECDSA_P256_SHA256_FIXED, ec_point(x, y, 32)?))
            }
            (DpopAlg::ES384, PublicJwk::Ec { crv: "P-384", x, y }) => {
                Ok(Self::Raw(&signature::ECDSA_P384_SHA384_FIXED, ec_point(x, y, 48)?))
            }
            (DpopAlg::RS256, PublicJwk::Rsa { n, e }) => {
                Ok(Self::Rsa(&signature::RSA_PKCS1_2048_8192_SHA256, dec(n)?, dec(e)?))
            }
            (DpopAlg::PS256, PublicJwk::Rsa { n, e }) => {
                Ok(Self::Rsa(&signature::RSA_PSS_2048_8192_SHA256, dec(n)?, dec(e)?))
            }
            _ => Err(DpopError::KeyAlgorithmMismatch),
        }
    }

    pub fn verify(&self, signing_input: &[u8], sig: &[u8]) -> Result<(), DpopError> {
        let ok = match self {
            Self::Raw(alg, key) => UnparsedPublicKey::new(*alg, key).verify(signing_input, sig).is_ok(),
            Self::Rsa(params, n, e) => {
                RsaPublicKeyComponents { n: n.as_slice(), e: e.as_slice() }.verify(params, signing_input, sig).is_ok()
            }
        };
        if ok { Ok(()) } else { Err(DpopError::BadSignature) }
    }
}
