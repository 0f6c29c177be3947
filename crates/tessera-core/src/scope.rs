//! Scope strings (RFC 6749 §3.3): space-separated tokens of `%x21 / %x23-5B /
//! %x5D-7E`, compared as sets.

use crate::error::OAuthError;

/// A scope with the sentence the consent page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeLine {
    pub name: String,
    pub description: String,
}

/// The OpenID Connect scopes every server knows, with what they let a client see.
pub const BUILTIN_SCOPES: &[(&str, &str)] = &[
    ("openid", "Confirm who you are (your account identifier)"),
    ("profile", "See your name and username"),
    ("email", "See your email address"),
    ("offline_access", "Stay connected while you are away (refresh tokens)"),
];

/// Longest `scope` value accepted, in bytes. Scope strings come before
/// authentication (the authorization and device endpoints, a public client's
/// refresh), so their cost must be bounded whatever their content.
pub const MAX_SCOPE_LEN: usize = 4096;
/// Most scope tokens in one set (Keycloak and Hydra clients rarely hold more
/// than a few dozen).
pub const MAX_SCOPES: usize = 100;
/// Longest single scope token.
pub const MAX_TOKEN_LEN: usize = 128;

/// A set of scope tokens, kept in the order first given, without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<String>);

impl ScopeSet {
    /// Parses a `scope` parameter. Empty input is the empty set. Linear in
    /// the input, which is bounded by [`MAX_SCOPE_LEN`] and [`MAX_SCOPES`].
    pub fn parse(s: &str) -> Result<Self, OAuthError> {
        if s.len() > MAX_SCOPE_LEN {
            return Err(OAuthError::invalid_scope(format!("scope is longer than {MAX_SCOPE_LEN} characters")));
        }
        let mut out: Vec<String> = Vec::new();
        let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for tok in s.split(' ') {
            if tok.is_empty() {
                continue;
            }
            if !tok.bytes().all(is_scope_char) {
                return Err(OAuthError::invalid_scope("scope contains a character RFC 6749 §3.3 does not allow"));
            }
            if tok.len() > MAX_TOKEN_LEN {
                return Err(OAuthError::invalid_scope("scope token longer than 128 characters"));
            }
            if seen.insert(tok) {
                if out.len() == MAX_SCOPES {
                    return Err(OAuthError::invalid_scope(format!("more than {MAX_SCOPES} scopes")));
                }
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

    /// What a user has consented to once they also allow `more`: the scopes
    /// of `self`, then those of `more`, that `allowed` (what the client may
    /// ask for now) holds. Scopes the client may no longer ask for are
    /// dropped rather than kept forever: the result is a subset of
    /// `allowed`, itself a parsed set, so however often consent grows it
    /// never exceeds [`MAX_SCOPES`] or [`MAX_SCOPE_LEN`] and its stored form
    /// always parses back. If the client is later allowed such a scope
    /// again, the user is asked about it again.
    pub fn union_within(&self, more: &ScopeSet, allowed: &ScopeSet) -> ScopeSet {
        let mut out: Vec<String> = Vec::new();
        for t in self.iter().chain(more.iter()) {
            if allowed.contains(t) && !out.iter().any(|o| o == t) {
                out.push(t.to_string());
            }
        }
        Self(out)
    }

    /// The tokens of `self` not in `allowed`, for a helpful error message.
    pub fn not_in(&self, allowed: &ScopeSet) -> Vec<&str> {
        self.iter().filter(|t| !allowed.contains(t)).collect()
    }
}

/// The stored and wire form: tokens separated by single spaces.
impl std::fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.0.join(" "))
    }
}

/// Stored as the space-separated string (a client's settings): a value that
/// does not parse is refused when read, not narrowed later.
impl serde::Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ScopeSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(|e| serde::de::Error::custom(e.description))
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
    fn bounded_before_any_work() {
        let long = "a ".repeat(MAX_SCOPE_LEN);
        assert_eq!(ScopeSet::parse(&long).map_err(|e| e.code), Err(tessera_proto::ErrorCode::InvalidScope));
        let many: Vec<String> = (0..=MAX_SCOPES).map(|i| format!("s{i}")).collect();
        assert!(ScopeSet::parse(&many.join(" ")).is_err(), "one scope too many");
        assert_eq!(ScopeSet::parse(&many[..MAX_SCOPES].join(" ")).map(|s| s.iter().count()), Ok(MAX_SCOPES));
        // Repeats do not count against the limit: they are dropped.
        assert_eq!(ScopeSet::parse(&"x ".repeat(MAX_SCOPE_LEN / 2)).map(|s| s.to_string()), Ok("x".to_string()));
    }

    /// The old parser scanned the set for every token: 2,000 distinct
    /// tokens took millions of comparisons. Counted, not timed: the set is
    /// bounded, so no input can reach quadratic work.
    #[test]
    fn distinct_tokens_up_to_the_limit_parse() {
        let s: Vec<String> = (0..MAX_SCOPES).map(|i| format!("scope:{i:04}")).collect();
        let parsed = ScopeSet::parse(&s.join(" ")).unwrap_or_default();
        assert_eq!(parsed.iter().count(), MAX_SCOPES);
        assert!(parsed.is_subset_of(&parsed));
    }

    /// Consent only ever grows by `union_within`: however often a client's
    /// scopes change and the user allows the new ones, the union stays a
    /// set that parses back from its stored form.
    #[test]
    fn a_union_within_the_allowed_set_stays_bounded() {
        let names = |p: &str| (0..MAX_SCOPES).map(|i| format!("{p}{i}")).collect::<Vec<_>>().join(" ");
        let old = ScopeSet::parse(&names("old:")).unwrap_or_default();
        let new = ScopeSet::parse(&names("new:")).unwrap_or_default();
        assert_eq!((old.iter().count(), new.iter().count()), (MAX_SCOPES, MAX_SCOPES));
        let u = old.union_within(&new, &new);
        assert_eq!(u, new, "scopes the client may no longer ask for are dropped");
        assert_eq!(ScopeSet::parse(&u.to_string()), Ok(u.clone()));
        // Still allowed: kept, the earlier ones first, without repeats.
        let allowed = ScopeSet::parse("a b c d").unwrap_or_default();
        let had = ScopeSet::parse("c gone a").unwrap_or_default();
        let more = ScopeSet::parse("b a").unwrap_or_default();
        assert_eq!(had.union_within(&more, &allowed).to_string(), "c a b");
        assert_eq!(ScopeSet::default().union_within(&more, &allowed).to_string(), "b a");
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
