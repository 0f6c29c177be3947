//! Property tests of PKCE (RFC 7636, S256 only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use tessera_core::pkce::{challenge_of, check_challenge, verify};

/// RFC 7636 §4.1: `43*128unreserved`.
fn verifier() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~-]{43,128}"
}

proptest! {
    #[test]
    fn a_verifier_matches_its_own_s256_challenge(v in verifier()) {
        let c = challenge_of(&v);
        prop_assert_eq!(c.len(), 43);
        prop_assert!(verify(&v, &c));
        prop_assert_eq!(check_challenge(Some(&c), Some("S256")).ok().map(|ch| ch.to_string()), Some(c.clone()));
        prop_assert!(check_challenge(Some(&c), Some("plain")).is_err());
        prop_assert!(check_challenge(Some(&c), None).is_err());
    }

    #[test]
    fn any_other_verifier_does_not(v in verifier(), w in verifier()) {
        prop_assume!(v != w);
        prop_assert!(!verify(&w, &challenge_of(&v)));
    }

    #[test]
    fn the_challenge_itself_or_a_near_miss_does_not(v in verifier(), at in any::<prop::sample::Index>()) {
        let c = challenge_of(&v);
        // `plain`: presenting the challenge as the verifier.
        prop_assert!(!verify(&c, &c));
        let mut near = v.clone().into_bytes();
        let i = at.index(near.len());
        near[i] = if near[i] == b'a' { b'b' } else { b'a' };
        prop_assert!(!verify(&String::from_utf8(near).unwrap_or_default(), &c));
    }

    #[test]
    fn malformed_lengths_are_refused(short in "[A-Za-z0-9._~-]{0,42}", long in "[A-Za-z0-9._~-]{129,300}") {
        for v in [&short, &long] {
            prop_assert!(!verify(v, &challenge_of(v)), "{} characters", v.len());
        }
        for c in [&short, &long] {
            prop_assert!(check_challenge(Some(c), Some("S256")).is_err());
        }
    }

    #[test]
    fn characters_outside_unreserved_are_refused(v in verifier(), at in any::<prop::sample::Index>(), bad in prop_oneof![Just('+'), Just('/'), Just('='), Just(' '), Just('%'), Just('é')]) {
        let mut s = v.clone();
        s.pop();
        let i = at.index(s.len() + 1);
        s.insert(i, bad);
        prop_assert!(!verify(&s, &challenge_of(&s)));
        let mut c = challenge_of(&v);
        c.pop();
        c.push(bad);
        prop_assert!(check_challenge(Some(&c), Some("S256")).is_err());
    }
}
