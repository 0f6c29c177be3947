//! Stateless DPoP server nonces (RFC 9449 §8, §9).
//!
//! A nonce is `base64url(counter || HMAC-SHA256(key, label || counter)[..16])`
//! where `counter` is the number of the time window (Unix seconds divided by
//! the window length, 8 bytes big-endian): 24 bytes, 32 characters. Nothing
//! is stored, so every node that holds the same key (derived by the caller
//! from the master key) accepts every other node's nonces, and a restart
//! forgets nothing.
//!
//! A nonce is accepted in the window it was issued in and the next one, so
//! it lives between one and two window lengths. It limits how far ahead a
//! proof can be pre-computed (§11.2); it is not a one-time value: replays are
//! the replay cache's job.

use std::time::Duration;

use aws_lc_rs::hmac;
use base64ct::{Base64UrlUnpadded, Encoding};
use subtle::ConstantTimeEq;

/// Domain separation, so this key's MACs mean nothing elsewhere.
const LABEL: &[u8] = b"tessera dpop nonce v1\0";
const COUNTER_LEN: usize = 8;
/// 128 bits of MAC.
const TAG_LEN: usize = 16;
const NONCE_BYTES: usize = COUNTER_LEN + TAG_LEN;
/// Length of an issued nonce in base64url characters.
pub const NONCE_LEN: usize = 32;

/// Issues and checks nonces under one key. Debug prints no key material.
pub struct NonceIssuer {
    key: hmac::Key,
    window: i64,
}

impl std::fmt::Debug for NonceIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceIssuer").field("window_secs", &self.window).finish_non_exhaustive()
    }
}

impl NonceIssuer {
    /// `key`: 32 bytes derived from the master key for this purpose only.
    /// `window`: the time window (whole seconds, at least one).
    pub fn new(key: [u8; 32], window: Duration) -> Self {
        let window = i64::try_from(window.as_secs()).unwrap_or(i64::MAX).max(1);
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, &key), window }
    }

    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window.unsigned_abs())
    }

    /// A nonce for the window `now` (Unix seconds) falls in.
    pub fn issue(&self, now: i64) -> String {
        let counter = self.counter(now);
        let mut raw = [0u8; NONCE_BYTES];
        raw[..COUNTER_LEN].copy_from_slice(&counter.to_be_bytes());
        raw[COUNTER_LEN..].copy_from_slice(&self.tag(counter));
        Base64UrlUnpadded::encode_string(&raw)
    }

    /// True for a nonce this key issued in the current or the previous
    /// window. The MAC is compared in constant time.
    pub fn check(&self, nonce: &str, now: i64) -> bool {
        if nonce.len() != NONCE_LEN {
            return false;
        }
        let mut raw = [0u8; NONCE_BYTES];
        if !matches!(Base64UrlUnpadded::decode(nonce, &mut raw), Ok(r) if r.len() == NONCE_BYTES) {
            return false;
        }
        let mut counter = [0u8; COUNTER_LEN];
        counter.copy_from_slice(&raw[..COUNTER_LEN]);
        let counter = u64::from_be_bytes(counter);
        let current = self.counter(now);
        if counter != current && Some(counter) != current.checked_sub(1) {
            return false;
        }
        bool::from(self.tag(counter).ct_eq(&raw[COUNTER_LEN..]))
    }

    fn counter(&self, now: i64) -> u64 {
        // Before 1970 is not a time a server runs at: all of it is window 0.
        now.max(0).div_euclid(self.window).unsigned_abs()
    }

    fn tag(&self, counter: u64) -> [u8; TAG_LEN] {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(LABEL);
        ctx.update(&counter.to_be_bytes());
        let full = ctx.sign();
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&full.as_ref()[..TAG_LEN]);
        out
    }
}
