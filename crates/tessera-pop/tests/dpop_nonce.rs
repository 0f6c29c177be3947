//! Stateless server nonces (RFC 9449 §8, §9): any node with the key
//! accepts them, for the current and the previous window only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use tessera_pop::nonce::{NONCE_LEN, NonceIssuer};

const T: i64 = 1_767_225_600; // a multiple of 300
const KEY: [u8; 32] = [42; 32];

fn node() -> NonceIssuer {
    NonceIssuer::new(KEY, Duration::from_secs(300))
}

#[test]
fn another_nodes_nonce_is_accepted() {
    let (a, b) = (node(), node());
    let n = a.issue(T + 10);
    assert_eq!(n.len(), NONCE_LEN);
    assert!(b.check(&n, T + 10));
    assert!(b.check(&n, T + 299), "same window");
    assert!(b.check(&n, T + 300), "next window");
    assert!(b.check(&n, T + 599));
    assert_eq!(a.issue(T + 1), b.issue(T + 299), "one value per window");
    assert_ne!(a.issue(T), a.issue(T + 300));
}

#[test]
fn a_stale_or_future_nonce_is_refused() {
    let n = node().issue(T);
    assert!(!node().check(&n, T + 600), "two windows later");
    assert!(!node().check(&n, T + 100_000));
    assert!(!node().check(&n, T - 1), "issued in a window that has not begun");
}

#[test]
fn a_tampered_or_foreign_nonce_is_refused() {
    let issuer = node();
    let n = issuer.issue(T);
    let mut raw = Base64UrlUnpadded::decode_vec(&n).unwrap();
    // Every single-bit change, in the counter or the MAC, is refused.
    for i in 0..raw.len() * 8 {
        raw[i / 8] ^= 1 << (i % 8);
        assert!(!issuer.check(&Base64UrlUnpadded::encode_string(&raw), T), "bit {i}");
        raw[i / 8] ^= 1 << (i % 8);
    }
    // Moving the counter forward without the key does not work.
    let mut later = raw.clone();
    later[7] = later[7].wrapping_add(1);
    assert!(!issuer.check(&Base64UrlUnpadded::encode_string(&later), T + 300));
    let other = NonceIssuer::new([43; 32], Duration::from_secs(300));
    assert!(!other.check(&n, T), "another deployment's key");
    for junk in ["", "x", &n[..NONCE_LEN - 1], &format!("{n}A"), &"!".repeat(NONCE_LEN)] {
        assert!(!issuer.check(junk, T), "{junk}");
    }
}

#[test]
fn window_is_at_least_a_second_and_debug_shows_no_key() {
    let tiny = NonceIssuer::new(KEY, Duration::from_millis(10));
    assert_eq!(tiny.window(), Duration::from_secs(1));
    assert!(tiny.check(&tiny.issue(T), T + 1));
    assert!(!tiny.check(&tiny.issue(T), T + 2));
    let shown = format!("{:?}", node());
    assert!(shown.contains("300") && !shown.contains("42"), "{shown}");
}
