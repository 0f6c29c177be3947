//! RFC 9530 `Content-Digest` with sha-256: the example values of the RFC
//! (§2 / Appendix B, the `{"hello": "world"}` body; Appendix B.2, an empty
//! body) and what a verifier refuses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tessera_pop::content_digest::{self, DigestError, MAX_FIELD_LEN};

const HELLO: &[u8] = br#"{"hello": "world"}"#;
const HELLO_SHA256: &str = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
const HELLO_SHA512: &str =
    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";
const EMPTY_SHA256: &str = "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:";

#[test]
fn the_rfc_examples_are_computed_exactly() {
    assert_eq!(content_digest::content_digest(HELLO), HELLO_SHA256);
    assert_eq!(content_digest::content_digest(b""), EMPTY_SHA256);
}

#[test]
fn a_matching_body_verifies_whatever_other_algorithms_are_listed() {
    content_digest::verify(HELLO_SHA256, HELLO).unwrap();
    content_digest::verify(EMPTY_SHA256, b"").unwrap();
    content_digest::verify(&format!("{HELLO_SHA512}, {HELLO_SHA256}"), HELLO).unwrap();
    // Unknown algorithms are ignored, whatever their value type.
    content_digest::verify(&format!("unixsum=1234, md5=:AAAA:, {HELLO_SHA256}"), HELLO).unwrap();
}

#[test]
fn a_different_body_is_refused() {
    assert_eq!(content_digest::verify(HELLO_SHA256, br#"{"hello": "World"}"#), Err(DigestError::Mismatch));
    assert_eq!(content_digest::verify(HELLO_SHA256, b""), Err(DigestError::Mismatch));
}

#[test]
fn a_field_without_sha_256_or_with_a_bad_value_is_refused() {
    assert_eq!(content_digest::verify(HELLO_SHA512, HELLO), Err(DigestError::NoSupportedAlgorithm));
    assert_eq!(content_digest::verify("unixsum=1234", HELLO), Err(DigestError::NoSupportedAlgorithm));
    for bad in [
        "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE",
        "sha-256=\"X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=\"",
        "sha-256=:AAAA:",
        "sha-256=(:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:)",
    ] {
        assert_eq!(content_digest::verify(bad, HELLO), Err(DigestError::BadValue), "{bad}");
    }
    for bad in ["sha-256=:not base64!:", "SHA-256=:AAAA:", "sha-256=:AAAA:,"] {
        assert_eq!(content_digest::verify(bad, HELLO), Err(DigestError::Malformed), "{bad}");
    }
    let long = format!("{HELLO_SHA256}, x=\"{}\"", "a".repeat(MAX_FIELD_LEN));
    assert_eq!(content_digest::verify(&long, HELLO), Err(DigestError::TooLong));
}

#[test]
fn the_parsed_digest_is_the_sha_256_of_the_body() {
    let d = content_digest::parse_sha256(HELLO_SHA256).unwrap();
    assert_eq!(d, content_digest::sha256(HELLO));
}
