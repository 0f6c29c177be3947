//! Property tests of the scope algebra (RFC 6749 §3.3): parsing, display,
//! de-duplication, subset, difference and the bounded union consent keeps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use proptest::prelude::*;
use tessera_core::scope::ScopeSet;

/// `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`; a small alphabet too, so
/// repeats and overlaps between sets are common.
fn token() -> impl Strategy<Value = String> {
    prop_oneof!["[!#-\\[\\]-~]{1,12}", "[abc]{1,2}"]
}

fn tokens() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(token(), 0..24)
}

fn set(t: &[String]) -> ScopeSet {
    ScopeSet::parse(&t.join(" ")).unwrap_or_else(|e| panic!("{t:?}: {e:?}"))
}

fn dedup(t: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    t.iter().filter(|x| seen.insert(x.as_str())).cloned().collect()
}

proptest! {
    #[test]
    fn display_parses_back_to_the_same_set(t in tokens()) {
        let s = set(&t);
        let shown = s.to_string();
        prop_assert_eq!(ScopeSet::parse(&shown).ok(), Some(s.clone()));
        prop_assert!(!shown.contains("  ") && !shown.starts_with(' ') && !shown.ends_with(' '));
    }

    #[test]
    fn tokens_kept_once_in_first_order(t in tokens(), gaps in prop::collection::vec(" {1,3}", 24)) {
        // Any run of spaces separates, as do leading and trailing ones.
        let joined: String = t.iter().zip(&gaps).map(|(x, g)| format!("{g}{x}")).collect();
        let s = ScopeSet::parse(&joined).unwrap_or_default();
        let want = dedup(&t);
        prop_assert_eq!(s.iter().collect::<Vec<_>>(), want.iter().map(String::as_str).collect::<Vec<_>>());
        prop_assert!(s.to_string().len() <= joined.len());
    }

    #[test]
    fn subset_is_reflexive_and_transitive(a in tokens(), b in tokens(), c in tokens()) {
        let (a, b, c) = (set(&a), set(&b), set(&c));
        prop_assert!(a.is_subset_of(&a));
        prop_assert!(ScopeSet::default().is_subset_of(&a));
        if a.is_subset_of(&b) && b.is_subset_of(&c) {
            prop_assert!(a.is_subset_of(&c));
        }
    }

    #[test]
    fn chains_of_subsets_are_subsets(c in tokens(), keep_b in prop::collection::vec(any::<bool>(), 24), keep_a in prop::collection::vec(any::<bool>(), 24)) {
        let b: Vec<String> = c.iter().zip(&keep_b).filter(|(_, k)| **k).map(|(t, _)| t.clone()).collect();
        let a: Vec<String> = b.iter().zip(&keep_a).filter(|(_, k)| **k).map(|(t, _)| t.clone()).collect();
        let (a, b, c) = (set(&a), set(&b), set(&c));
        prop_assert!(a.is_subset_of(&b) && b.is_subset_of(&c) && a.is_subset_of(&c));
    }

    #[test]
    fn not_in_is_exactly_the_difference(a in tokens(), b in tokens()) {
        let (sa, sb) = (set(&a), set(&b));
        let bs: HashSet<&str> = b.iter().map(String::as_str).collect();
        let want: Vec<String> = dedup(&a).into_iter().filter(|t| !bs.contains(t.as_str())).collect();
        prop_assert_eq!(sa.not_in(&sb), want.iter().map(String::as_str).collect::<Vec<_>>());
        prop_assert_eq!(sa.not_in(&sb).is_empty(), sa.is_subset_of(&sb));
    }

    /// Remembered consent grows by `union_within`: exactly the allowed
    /// scopes of both sides, the earlier first, and it parses back.
    #[test]
    fn a_union_within_is_the_allowed_part_of_both(a in tokens(), b in tokens(), allowed in tokens()) {
        let (sa, sb, sal) = (set(&a), set(&b), set(&allowed));
        let u = sa.union_within(&sb, &sal);
        let both: Vec<String> = a.iter().chain(&b).cloned().collect();
        let want: Vec<String> = dedup(&both).into_iter().filter(|t| sal.contains(t)).collect();
        prop_assert_eq!(u.iter().collect::<Vec<_>>(), want.iter().map(String::as_str).collect::<Vec<_>>());
        prop_assert!(u.is_subset_of(&sal));
        prop_assert_eq!(ScopeSet::parse(&u.to_string()).ok(), Some(u.clone()));
    }

    #[test]
    fn a_character_outside_the_grammar_is_refused(t in tokens(), at in any::<prop::sample::Index>(), bad in prop_oneof![Just('"'), Just('\\'), Just('\t'), Just('\u{7f}'), Just('é'), Just('\0')]) {
        let mut joined = t.join(" ");
        let i = at.index(joined.len() + 1);
        let i = (0..=i).rev().find(|i| joined.is_char_boundary(*i)).unwrap_or(0);
        joined.insert(i, bad);
        prop_assert!(ScopeSet::parse(&joined).is_err(), "{:?}", joined);
    }

    #[test]
    fn token_length_is_bounded(n in 1usize..300) {
        let long = "x".repeat(n);
        prop_assert_eq!(ScopeSet::parse(&long).is_ok(), n <= 128);
    }
}
