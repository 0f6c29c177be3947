//! The form parameters of each grant this crate requests.

use zeroize::Zeroizing;

use crate::secret::RefreshToken;

/// Which grant a [`crate::TokenSource`] uses, for `Debug` and dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantKind {
    ClientCredentials,
    RefreshToken,
}

/// One token request's grant, with the refresh token to spend if any.
pub(crate) enum Grant<'a> {
    /// RFC 6749 §4.4.2.
    ClientCredentials,
    /// RFC 6749 §6.
    RefreshToken(&'a RefreshToken),
}

pub(crate) type Form = Vec<(&'static str, Zeroizing<String>)>;

impl Grant<'_> {
    /// `scope` is space-separated (RFC 6749 §3.3); `resource` repeats, one per
    /// target (RFC 8707 §2). On a refresh, scope may only narrow (§6).
    pub(crate) fn form(&self, scopes: &[String], resources: &[String]) -> Form {
        let mut form: Form = match self {
            Self::ClientCredentials => vec![("grant_type", Zeroizing::new("client_credentials".into()))],
            Self::RefreshToken(rt) => vec![
                ("grant_type", Zeroizing::new("refresh_token".into())),
                ("refresh_token", Zeroizing::new(rt.secret().to_owned())),
            ],
        };
        if !scopes.is_empty() {
            form.push(("scope", Zeroizing::new(scopes.join(" "))));
        }
        form.extend(resources.iter().map(|r| ("resource", Zeroizing::new(r.clone()))));
        form
    }
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub(crate) fn is_scope_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(form: &Form) -> Vec<(&str, &str)> {
        form.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    #[test]
    fn client_credentials_form() {
        let f = Grant::ClientCredentials
            .form(&["read".into(), "write".into()], &["https://a.example".into(), "https://b.example".into()]);
        assert_eq!(
            pairs(&f),
            [
                ("grant_type", "client_credentials"),
                ("scope", "read write"),
                ("resource", "https://a.example"),
                ("resource", "https://b.example")
            ]
        );
    }

    #[test]
    fn refresh_form_without_scope() {
        let rt = RefreshToken::new("rt-1");
        let f = Grant::RefreshToken(&rt).form(&[], &[]);
        assert_eq!(pairs(&f), [("grant_type", "refresh_token"), ("refresh_token", "rt-1")]);
    }

    #[test]
    fn scope_tokens() {
        assert!(is_scope_token("inventory:read") && is_scope_token("offline_access"));
        for bad in ["", "a b", "quote\"", "back\\slash", "é"] {
            assert!(!is_scope_token(bad), "{bad}");
        }
    }
}
