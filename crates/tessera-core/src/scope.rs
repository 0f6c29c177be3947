//! Scope strings (RFC 6749 §3.3): space-separated tokens of `%x21 / %x23-5B /
//! %x5D-7E`, compared as sets.

use crate::error::OAuthError;

/// A set of scope tokens, kept in the order first given, without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<String>);

impl ScopeSet {
    /// Parses a `scope` parameter. Empty input is the empty set.
    pub fn parse(s: &str) -> Result<Self, OAuthError> {
        let mut out: Vec<String> = Vec::new();
        for tok in s.split(' ') {
            if tok.is_empty() {
                continue;
            }
            if !tok.bytes().all(is_scope_char) {
                return Err(OAuthError::invalid_scope("scope contains a character RFC 6749 §3.3 does not allow"));
            }
            if tok.len() > 128 {
                return Err(OAuthError::invalid_scope("scope token longer than 128 characters"));
            }
            if !out.iter().any(|t| t == tok) {
                out.push(tok.to_string());
            }
        }
        Ok(Self(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn contains(&self, s: &str) -> bool {
        self.0.iter().any(|t| t == s)
    }

    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.iter().all(|t| other.contains(t))
    }

    /// The tokens of `self` not in `allowed`, for a helpful error message.
    pub fn not_in(&self, allowed: &ScopeSet) -> Vec<&str> {
        self.iter().filter(|t| !allowed.contains(t)).collect()
    }
}

impl std::fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

fn is_scope_char(b: u8) -> bool {
    b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_dedups() {
        let s = ScopeSet::parse("a  b a").unwrap_or_default();
        assert_eq!(s.to_string(), "a b");
    }

    #[test]
    fn rejects_bad_chars() {
        for bad in ["a\"b", "a\\b", "é", "a\tb"] {
            assert!(ScopeSet::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subset() {
        let all = ScopeSet::parse("inventory:read inventory:write").unwrap_or_default();
        let one = ScopeSet::parse("inventory:read").unwrap_or_default();
        let other = ScopeSet::parse("admin").unwrap_or_default();
        assert!(one.is_subset_of(&all));
        assert!(!other.is_subset_of(&all));
        assert_eq!(other.not_in(&all), vec!["admin"]);
    }
}
