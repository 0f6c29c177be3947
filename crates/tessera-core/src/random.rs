//! Randomness is a parameter: core code asks a [`Random`], never the OS.

use std::sync::atomic::{AtomicU64, Ordering};

pub trait Random: Send + Sync + 'static {
    /// Fills `buf` with unpredictable bytes. Implementations must not fail
    /// silently: if the OS source is broken, panicking at start-up is safer
    /// than issuing guessable tokens, so [`SystemRandom`] is checked once at
    /// start by [`SystemRandom::new`].
    fn fill(&self, buf: &mut [u8]);

    fn bytes32(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        self.fill(&mut b);
        b
    }
}

/// The operating system's CSPRNG, through aws-lc-rs.
#[derive(Debug)]
pub struct SystemRandom(aws_lc_rs::rand::SystemRandom);

impl SystemRandom {
    /// Checks that the OS source works before anything relies on it.
    pub fn new() -> Result<Self, aws_lc_rs::error::Unspecified> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut probe = [0u8; 16];
        aws_lc_rs::rand::SecureRandom::fill(&rng, &mut probe)?;
        Ok(Self(rng))
    }
}

impl Random for SystemRandom {
    fn fill(&self, buf: &mut [u8]) {
        // aws-lc's RAND_bytes aborts the process itself on failure, so an
        // error here cannot happen after the probe in `new`; zero-fill is
        // never returned to a caller as randomness because we abort instead.
        if aws_lc_rs::rand::SecureRandom::fill(&self.0, buf).is_err() {
            std::process::abort();
        }
    }
}

/// Predictable bytes for tests: a counter run through SHA-256.
#[derive(Debug, Default)]
pub struct SeededRandom(AtomicU64);

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        Self(AtomicU64::new(seed))
    }
}

impl Random for SeededRandom {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(32) {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &n.to_le_bytes());
            chunk.copy_from_slice(&d.as_ref()[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_repeatable_and_distinct() {
        let a = SeededRandom::new(7);
        let b = SeededRandom::new(7);
        let (x, y) = (a.bytes32(), b.bytes32());
        assert_eq!(x, y);
        assert_ne!(a.bytes32(), x);
    }

    #[test]
    fn system_random_fills() {
        let r = SystemRandom::new().unwrap_or_else(|_| std::process::abort());
        assert_ne!(r.bytes32(), [0u8; 32]);
    }
}
