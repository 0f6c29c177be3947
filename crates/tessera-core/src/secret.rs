//! Credentials in memory: client secrets and token strings.
//!
//! Every credential Tessera generates is 256 random bits with a type prefix
//! (`tsr_cs_` client secret, `tsr_at_` opaque access token) so secret
//! scanners can find leaked ones. High-entropy secrets need no slow KDF: the
//! store keeps their SHA-256 [`Digest`] and comparison is constant-time.

use base64ct::{Base64UrlUnpadded, Encoding};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::random::Random;

pub const CLIENT_SECRET_PREFIX: &str = "tsr_cs_";
pub const ACCESS_TOKEN_PREFIX: &str = "tsr_at_";
pub const CODE_PREFIX: &str = "tsr_ac_";
pub const SESSION_PREFIX: &str = "tsr_ss_";
pub const REFRESH_PREFIX: &str = "tsr_rt_";

/// A credential string. Zeroed on drop; `Debug` and `Display` never show it.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// Generates `prefix` + 256 random bits, base64url without padding.
    pub fn generate(rng: &dyn Random, prefix: &str) -> Self {
        let mut raw = rng.bytes32();
        let s = format!("{prefix}{}", Base64UrlUnpadded::encode_string(&raw));
        raw.zeroize();
        Self(s)
    }

    /// The only way to read the value; grep for it when auditing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn digest(&self) -> Digest {
        Digest::of(self.0.as_bytes())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// SHA-256 of a credential: what the store keeps instead of the credential.
#[derive(Clone, Copy, Hash, PartialEq, Eq)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    pub fn of(bytes: &[u8]) -> Self {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Self(out)
    }

    pub fn from_slice(b: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(b).ok().map(Self)
    }

    /// Constant-time comparison, for checking a presented secret.
    pub fn ct_eq(&self, other: &Digest) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

// A digest of a high-entropy secret is not itself a credential, but there is
// no reason to print it either.
impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Digest({}…)", &hex::encode(&self.0[..4]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn generated_secret_has_prefix_and_256_bits() {
        let s = Secret::generate(&SeededRandom::new(1), CLIENT_SECRET_PREFIX);
        let body = s.expose().strip_prefix(CLIENT_SECRET_PREFIX).unwrap_or_default();
        assert_eq!(Base64UrlUnpadded::decode_vec(body).map(|v| v.len()).ok(), Some(32));
    }

    #[test]
    fn debug_never_shows_secret() {
        let s = Secret::new("hunter2-very-secret");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn digest_compare() {
        let a = Secret::new("a").digest();
        assert!(a.ct_eq(&Secret::new("a").digest()));
        assert!(!a.ct_eq(&Secret::new("b").digest()));
    }
}
