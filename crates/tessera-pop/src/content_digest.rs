//! RFC 9530 `Content-Digest` with `sha-256`: the field that lets an HTTP
//! message signature (RFC 9421) cover the body.
//!
//! - [`content_digest`] makes the field value for a body (RFC 9530 §2: a
//!   structured-field Dictionary, RFC 9651 §3.2, whose `sha-256` member is
//!   a Byte Sequence of the SHA-256 digest, §5 and the hash algorithm
//!   registry of §7.2).
//! - [`verify`] parses a received field and checks a body against it in
//!   constant time. Members for other algorithms are ignored (§2: a
//!   recipient may ignore algorithms it does not support); a field with no
//!   `sha-256` member is an error, so a sender cannot downgrade to an
//!   algorithm we do not check.
//!
//! The digest is over the content as received (after content coding,
//! before transfer coding, §2), which is the bytes the caller hands in.

use aws_lc_rs::digest;
use base64ct::{Base64, Encoding};
use subtle::ConstantTimeEq;

/// The field name, lowercased (as RFC 9421 covers it).
pub const HEADER: &str = "content-digest";

/// The one algorithm key we compute and check (RFC 9530 §7.2).
pub const SHA_256: &str = "sha-256";

/// Longest `Content-Digest` field value accepted, checked before parsing:
/// a sha-256 member is 54 bytes, sha-512 98; room for a few more.
pub const MAX_FIELD_LEN: usize = 1024;

/// Why a `Content-Digest` field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// Longer than [`MAX_FIELD_LEN`].
    #[error("Content-Digest is longer than {MAX_FIELD_LEN} bytes")]
    TooLong,
    /// Not a structured-field Dictionary (RFC 9651 §3.2).
    #[error("Content-Digest is not a structured-field dictionary")]
    Malformed,
    /// No `sha-256` member: nothing we can check.
    #[error("Content-Digest has no sha-256 member")]
    NoSupportedAlgorithm,
    /// A `sha-256` member that is not a 32-byte Byte Sequence.
    #[error("the sha-256 member of Content-Digest is not a 32-byte byte sequence")]
    BadValue,
    /// The body's digest differs from the field's.
    #[error("the body does not match Content-Digest")]
    Mismatch,
}

/// SHA-256 of `body`.
pub fn sha256(body: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, body);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The `Content-Digest` field value for `body`: `sha-256=:BASE64:`.
pub fn content_digest(body: &[u8]) -> String {
    format!("{SHA_256}=:{}:", Base64::encode_string(&sha256(body)))
}

/// The `sha-256` digest a `Content-Digest` field value carries. Other
/// members are ignored whatever their type; the sha-256 one must be a
/// 32-byte Byte Sequence.
pub fn parse_sha256(field_value: &str) -> Result<[u8; 32], DigestError> {
    if field_value.len() > MAX_FIELD_LEN {
        return Err(DigestError::TooLong);
    }
    let dict: sfv::Dictionary = sfv::Parser::new(field_value).parse().map_err(|_| DigestError::Malformed)?;
    let member = dict.get(SHA_256).ok_or(DigestError::NoSupportedAlgorithm)?;
    let sfv::ListEntry::Item(item) = member else {
        return Err(DigestError::BadValue);
    };
    let bytes = item.bare_item.as_byte_sequence().ok_or(DigestError::BadValue)?;
    <[u8; 32]>::try_from(bytes).map_err(|_| DigestError::BadValue)
}

/// Checks `body` against a received `Content-Digest` field value (the
/// instances of the field combined with `", "`), in constant time.
pub fn verify(field_value: &str, body: &[u8]) -> Result<(), DigestError> {
    let expected = parse_sha256(field_value)?;
    if bool::from(sha256(body).ct_eq(&expected)) { Ok(()) } else { Err(DigestError::Mismatch) }
}
