//! Identifiers that must not be mixed up: a [`ClientId`] (RFC 6749 §2.2)
//! and a [`UserId`] (the `sub` of a person's tokens) are both strings, but
//! one can no longer be passed where the other is expected.
//!
//! Both are opaque once made: a client id is checked when it is registered
//! ([`ClientId::parse`]); ids read back from the store, or presented in a
//! request and only looked up, are wrapped as they are ([`From`]). Their wire
//! form (JSON claims, CLI output, the store's columns) is the bare string.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_string())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        /// Quoted like a string, so messages read as they did.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        /// Pads like a string, so column output stays as it was.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Maps keyed by the id answer lookups by a presented `&str`.
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

id_type!(
    /// A registered client's `client_id` (RFC 6749 §2.2).
    ClientId
);

id_type!(
    /// A user's id: the `sub` of their tokens and the owner of their
    /// sessions, consents, codes and grants.
    UserId
);

impl ClientId {
    /// Longest client id accepted at registration.
    pub const MAX_LEN: usize = 128;

    /// A client id chosen at registration. Client ids go into Basic headers
    /// and URLs: 1 to 128 characters of `A-Z a-z 0-9 - . _ ~`.
    pub fn parse(id: &str) -> Result<Self, String> {
        let ok = !id.is_empty()
            && id.len() <= Self::MAX_LEN
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if ok {
            Ok(Self(id.to_string()))
        } else {
            Err("client id must be 1 to 128 characters of A-Z a-z 0-9 - . _ ~".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_is_the_bare_string() {
        let c = ClientId::from("app");
        assert_eq!(serde_json::to_string(&c).ok().as_deref(), Some("\"app\""));
        assert_eq!(serde_json::from_str::<UserId>("\"u1\"").ok(), Some(UserId::from("u1")));
        assert_eq!(format!("[{:<5}] {:?}", c, c), "[app  ] \"app\"");
        assert_eq!(c, "app");
    }

    #[test]
    fn maps_find_a_presented_str() {
        let m: std::collections::HashMap<ClientId, u8> = [(ClientId::from("app"), 1)].into();
        assert_eq!(m.get("app"), Some(&1));
    }

    #[test]
    fn registration_checks_the_alphabet() {
        assert!(ClientId::parse("svc-1.a_b~").is_ok());
        for bad in ["", "has space", "a/b", &"a".repeat(129)] {
            assert!(ClientId::parse(bad).is_err(), "{bad}");
        }
    }
}
