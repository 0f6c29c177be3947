//! Opaque access tokens: `tsr_at_` + a time-ordered lookup id + 256 random
//! bits (layout in [`crate::secret`]). Only a digest is stored, so a database
//! leak yields no usable token.

use crate::random::Random;
use crate::secret::{ACCESS_TOKEN_PREFIX, Secret};

/// Length of a token issued before lookup ids: `tsr_at_` + 43 base64url characters.
pub const OPAQUE_LEN: usize = 7 + 43;
/// Length of `tsr_at_` + 16 characters of id + 43 of secret.
pub const OPAQUE_ID_LEN: usize = OPAQUE_LEN + 16;

/// A new token, its id from `millis` (the clock's milliseconds) and `rng`.
pub fn generate(rng: &dyn Random, millis: i64) -> Secret {
    Secret::generate_with_id(rng, millis, ACCESS_TOKEN_PREFIX)
}

/// Whether a presented string has our opaque shape (before any lookup).
/// Tokens issued before ids stay valid until they expire.
pub fn looks_opaque(token: &str) -> bool {
    matches!(token.len(), OPAQUE_LEN | OPAQUE_ID_LEN) && token.starts_with(ACCESS_TOKEN_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn generated_tokens_look_opaque() {
        let t = generate(&SeededRandom::new(1), 1_767_225_600_000);
        assert!(looks_opaque(t.expose()));
        assert!(t.token_id().is_some());
        assert!(!looks_opaque("tsr_at_short"));
    }

    #[test]
    fn tokens_issued_before_ids_still_look_opaque() {
        let old = Secret::generate(&SeededRandom::new(1), ACCESS_TOKEN_PREFIX);
        assert!(looks_opaque(old.expose()));
        assert_eq!(old.token_id(), None);
    }
}
