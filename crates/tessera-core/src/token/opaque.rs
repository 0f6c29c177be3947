//! Opaque access tokens: `tsr_at_` + 256 random bits. Only the SHA-256 digest
//! is stored, so a database leak yields no usable token.

use crate::random::Random;
use crate::secret::{ACCESS_TOKEN_PREFIX, Secret};

/// Length of `tsr_at_` + 43 base64url characters.
pub const OPAQUE_LEN: usize = 7 + 43;

pub fn generate(rng: &dyn Random) -> Secret {
    Secret::generate(rng, ACCESS_TOKEN_PREFIX)
}

/// Whether a presented string has our opaque shape (before any lookup).
pub fn looks_opaque(token: &str) -> bool {
    token.len() == OPAQUE_LEN && token.starts_with(ACCESS_TOKEN_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn generated_tokens_look_opaque() {
        let t = generate(&SeededRandom::new(1));
        assert!(looks_opaque(t.expose()));
        assert!(!looks_opaque("tsr_at_short"));
    }
}
