//! Form parameters of OAuth requests (`application/x-www-form-urlencoded`,
//! RFC 6749 §3.1 and §3.2): a parameter sent twice is an error, one sent
//! without a value counts as absent, and only RFC 8707 `resource` may repeat.

use crate::error::OAuthError;

/// Parameters that may legitimately appear more than once.
const REPEATABLE: &[&str] = &["resource"];
/// Bounds the work one request can cause.
const MAX_PARAMS: usize = 64;

/// Parsed parameters. `Debug` shows names only: values may be credentials.
#[derive(Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.pairs.iter().map(|(k, _)| k)).finish()
    }
}

impl Params {
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        if std::str::from_utf8(body).is_err() {
            return Err(OAuthError::invalid_request("request body is not valid UTF-8"));
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(body) {
            if v.is_empty() {
                continue;
            }
            if pairs.len() >= MAX_PARAMS {
                return Err(OAuthError::invalid_request("too many parameters"));
            }
            if !REPEATABLE.contains(&k.as_ref()) && pairs.iter().any(|(n, _)| *n == k) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter '{}' was sent more than once",
                    printable(&k)
                )));
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(Self { pairs })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// The parameters as a form-urlencoded string (carried through the
    /// login and consent pages, and parsed again there).
    pub fn encode(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            s.append_pair(k, v);
        }
        s.finish()
    }

    /// A required parameter, or `invalid_request` naming it.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| OAuthError::invalid_request(format!("missing required parameter '{name}'")))
    }
}

/// Parameter names echoed in error messages are cut short and stripped of
/// control characters so an error cannot be used to inject text.
pub fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_is_invalid_request_but_resource_repeats() {
        assert!(Params::parse(b"grant_type=a&grant_type=b").is_err());
        let p = Params::parse(b"resource=https://a&resource=https://b").unwrap_or_default();
        assert_eq!(p.get_all("resource"), vec!["https://a", "https://b"]);
    }

    #[test]
    fn empty_value_is_absent() {
        let p = Params::parse(b"scope=&grant_type=x").unwrap_or_default();
        assert_eq!(p.get("scope"), None);
        assert!(p.require("scope").is_err());
    }

    #[test]
    fn rejects_non_utf8_and_floods() {
        assert!(Params::parse(&[0x61, 0x3d, 0xff]).is_err());
        let flood: String = (0..100).map(|i| format!("p{i}=v&")).collect();
        assert!(Params::parse(flood.as_bytes()).is_err());
    }

    #[test]
    fn debug_hides_values() {
        let p = Params::parse(b"client_secret=topsecret").unwrap_or_default();
        assert!(!format!("{p:?}").contains("topsecret"));
    }
}
