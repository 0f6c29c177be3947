//! Credentials in memory: client secrets and token strings.
//!
//! Every credential Tessera generates is 256 random bits with a type prefix
//! (`tsr_cs_` client secret, `tsr_at_` opaque access token) so secret
//! scanners can find leaked ones. High-entropy secrets need no slow KDF: the
//! store keeps their SHA-256 [`Digest`] and comparison is constant-time.
//!
//! Opaque access and refresh tokens also carry a [`TokenId`] between the
//! prefix and the secret (`tsr_at_` + 16 characters of id + 43 of secret):
//! 48 bits of milliseconds then 48 random bits. The store keys their rows by
//! the id followed by the first 20 bytes of the SHA-256 ([`Secret::digest`]),
//! so new rows go to the end of the index instead of a random page. Tokens
//! issued before ids (`tsr_at_` + 43 characters) keep their plain SHA-256 key.

use base64ct::{Base64UrlUnpadded, Encoding};
use subtle::ConstantTimeEq;
use tessera_proto::Redacted;
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

    /// `prefix` + a [`TokenId`] from `millis` and `rng` + 256 random bits.
    pub fn generate_with_id(rng: &dyn Random, millis: i64, prefix: &str) -> Self {
        let id = TokenId::new(rng, millis);
        let mut raw = rng.bytes32();
        let s =
            format!("{prefix}{}{}", Base64UrlUnpadded::encode_string(&id.0), Base64UrlUnpadded::encode_string(&raw));
        raw.zeroize();
        Self(s)
    }

    /// The only way to read the value; grep for it when auditing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the whole string: names an access token in the revocation
    /// feed (resource servers compute the same) and keys in-memory caches.
    pub fn sha256(&self) -> Digest {
        Digest::of(self.0.as_bytes())
    }

    /// What the store keys this credential by: [`TokenKey::stored`].
    pub fn digest(&self) -> Digest {
        self.key().stored()
    }

    /// The lookup id, if this is an access or refresh token in the id layout
    /// (a well-formed id and a well-formed 256-bit secret).
    pub fn token_id(&self) -> Option<TokenId> {
        let body = [ACCESS_TOKEN_PREFIX, REFRESH_PREFIX].iter().find_map(|p| self.0.strip_prefix(p))?;
        if body.len() != ID_CHARS + SECRET_CHARS || !body.is_char_boundary(ID_CHARS) {
            return None;
        }
        let (id, secret) = body.split_at(ID_CHARS);
        let mut secret_bytes = [0u8; 32];
        let ok = Base64UrlUnpadded::decode(secret, &mut secret_bytes).map(|b| b.len() == 32).unwrap_or(false);
        secret_bytes.zeroize();
        let mut id_bytes = [0u8; TOKEN_ID_LEN];
        let id_ok = Base64UrlUnpadded::decode(id, &mut id_bytes).map(|b| b.len() == TOKEN_ID_LEN).unwrap_or(false);
        (ok && id_ok).then_some(TokenId(id_bytes))
    }

    /// Its id (if any) and its SHA-256.
    pub fn key(&self) -> TokenKey {
        TokenKey { id: self.token_id(), sha256: self.sha256() }
    }
}

/// Bytes in a [`TokenId`].
pub const TOKEN_ID_LEN: usize = 12;
/// Characters of a [`TokenId`] and of a 256-bit secret in a token.
const ID_CHARS: usize = 16;
const SECRET_CHARS: usize = 43;

/// A token's time-ordered lookup id: 48-bit big-endian milliseconds since
/// the epoch, then 48 random bits (ids minted in the same millisecond, on
/// any node, collide with odds of 2^-48 per pair). Not a secret.
#[derive(Clone, Copy, Hash, PartialEq, Eq, Debug)]
pub struct TokenId(pub [u8; TOKEN_ID_LEN]);

impl TokenId {
    pub fn new(rng: &dyn Random, millis: i64) -> Self {
        let mut id = [0u8; TOKEN_ID_LEN];
        id[..6].copy_from_slice(&millis.max(0).to_be_bytes()[2..]);
        rng.fill(&mut id[6..]);
        Self(id)
    }
}

/// How the store finds a token: its id (tokens in the id layout) and the
/// SHA-256 of the whole token.
#[derive(Clone, Copy, Hash, PartialEq, Eq, Debug)]
pub struct TokenKey {
    pub id: Option<TokenId>,
    pub sha256: Digest,
}

impl TokenKey {
    /// A token issued before ids: found by its SHA-256.
    pub fn legacy(sha256: Digest) -> Self {
        Self { id: None, sha256 }
    }

    /// The row key: the id then the first 20 bytes of the SHA-256 (160 bits
    /// of a hash of 256 secret bits: no shortcut to a token), so keys grow
    /// with time; without an id, the SHA-256 itself.
    pub fn stored(&self) -> Digest {
        match self.id {
            None => self.sha256,
            Some(id) => {
                let mut d = [0u8; 32];
                d[..TOKEN_ID_LEN].copy_from_slice(&id.0);
                d[TOKEN_ID_LEN..].copy_from_slice(&self.sha256.0[..32 - TOKEN_ID_LEN]);
                Digest(d)
            }
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Secret").field(&Redacted).finish()
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

    /// The smallest and largest keys sharing this key's first
    /// [`TOKEN_ID_LEN`] bytes (its id): a store reads the rows in that range
    /// and picks the one equal under [`Digest::ct_eq`], so the part of the key
    /// a presented token decides is never compared by the database.
    pub fn id_range(&self) -> (Digest, Digest) {
        let (mut lo, mut hi) = (self.0, self.0);
        lo[TOKEN_ID_LEN..].fill(0);
        hi[TOKEN_ID_LEN..].fill(0xff);
        (Digest(lo), Digest(hi))
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

    fn with_id() -> Secret {
        Secret::generate_with_id(&SeededRandom::new(7), 1_767_225_600_123, REFRESH_PREFIX)
    }

    #[test]
    fn id_layout_parses_and_keys_by_time() {
        let s = with_id();
        assert_eq!(s.expose().len(), REFRESH_PREFIX.len() + 16 + 43);
        let id = s.token_id().unwrap_or(TokenId([0; TOKEN_ID_LEN]));
        assert_eq!(&id.0[..6], &1_767_225_600_123_i64.to_be_bytes()[2..]);
        let key = s.key();
        assert_eq!(key.id, Some(id));
        assert_eq!(key.sha256, Digest::of(s.expose().as_bytes()));
        assert_eq!(&s.digest().0[..TOKEN_ID_LEN], &id.0);
        assert_eq!(&s.digest().0[TOKEN_ID_LEN..], &key.sha256.0[..20]);
        // Later ids sort after earlier ones.
        let later = Secret::generate_with_id(&SeededRandom::new(1), 1_767_225_600_124, ACCESS_TOKEN_PREFIX);
        assert!(later.digest().0 > s.digest().0);
        let (lo, hi) = s.digest().id_range();
        assert!(lo.0 <= s.digest().0 && s.digest().0 <= hi.0 && hi.0 < later.digest().0);
    }

    #[test]
    fn tampered_id_or_secret_changes_the_key() {
        let s = with_id();
        let flip = |i: usize| {
            let mut b = s.expose().as_bytes().to_vec();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            Secret::new(String::from_utf8(b).unwrap_or_default())
        };
        let id_at = REFRESH_PREFIX.len() + 3;
        let secret_at = REFRESH_PREFIX.len() + 16 + 5;
        for t in [flip(id_at), flip(secret_at)] {
            assert!(!t.digest().ct_eq(&s.digest()));
            assert!(!t.sha256().ct_eq(&s.sha256()));
        }
        assert_ne!(flip(id_at).token_id(), s.token_id());
        assert_eq!(flip(secret_at).token_id(), s.token_id(), "the id alone finds the row; the secret must still match");
    }

    #[test]
    fn old_layout_and_malformed_tokens_have_no_id() {
        let old = Secret::generate(&SeededRandom::new(1), ACCESS_TOKEN_PREFIX);
        assert_eq!(old.token_id(), None);
        assert_eq!(old.digest(), old.sha256(), "tokens issued before ids keep their SHA-256 key");
        let s = with_id();
        assert_eq!(Secret::new(format!("{}!", &s.expose()[..s.expose().len() - 1])).token_id(), None);
        assert_eq!(Secret::new(s.expose().replacen(REFRESH_PREFIX, CLIENT_SECRET_PREFIX, 1)).token_id(), None);
        assert_eq!(Secret::new(format!("{}A", s.expose())).token_id(), None);
        let cs = Secret::generate(&SeededRandom::new(1), CLIENT_SECRET_PREFIX);
        assert_eq!(cs.digest(), Digest::of(cs.expose().as_bytes()));
    }

    #[test]
    fn digest_compare() {
        let a = Secret::new("a").digest();
        assert!(a.ct_eq(&Secret::new("a").digest()));
        assert!(!a.ct_eq(&Secret::new("b").digest()));
    }
}
