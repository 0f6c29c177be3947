//! CSRF tokens for the browser forms: the signed double-submit pattern
//! (OWASP CSRF Cheat Sheet). A random per-browser value lives in a cookie;
//! each form carries HMAC(key, purpose || value). A cross-site page can
//! neither read the cookie nor compute the MAC, and nothing is stored, so
//! every node sharing the master key accepts every other node's forms.

use aws_lc_rs::hmac;
use base64ct::{Base64UrlUnpadded, Encoding};
use subtle::ConstantTimeEq;

use crate::keys::MasterKey;
use crate::random::Random;

pub struct CsrfKey(hmac::Key);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey([redacted])")
    }
}

impl CsrfKey {
    pub fn new(master: &MasterKey) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, master.derive("tessera csrf v1").as_ref()))
    }

    /// A fresh browser binding value for the cookie.
    pub fn binding(rng: &dyn Random) -> String {
        let mut b = [0u8; 24];
        rng.fill(&mut b);
        Base64UrlUnpadded::encode_string(&b)
    }

    /// The token a form of `purpose` (`login`, `consent`, `logout`) carries.
    pub fn token(&self, purpose: &str, binding: &str) -> String {
        let msg = format!("{purpose}\n{binding}");
        Base64UrlUnpadded::encode_string(hmac::sign(&self.0, msg.as_bytes()).as_ref())
    }

    pub fn verify(&self, purpose: &str, binding: Option<&str>, token: Option<&str>) -> bool {
        let (Some(binding), Some(token)) = (binding, token) else { return false };
        if binding.len() < 16 {
            return false;
        }
        self.token(purpose, binding).as_bytes().ct_eq(token.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn bound_to_browser_purpose_and_key() {
        let k = CsrfKey::new(&MasterKey::from_bytes([1; 32]));
        let b = CsrfKey::binding(&SeededRandom::new(1));
        let t = k.token("consent", &b);
        assert!(k.verify("consent", Some(&b), Some(&t)));
        assert!(!k.verify("login", Some(&b), Some(&t)));
        assert!(!k.verify("consent", Some("another-browser-value"), Some(&t)));
        assert!(!k.verify("consent", None, Some(&t)));
        assert!(!k.verify("consent", Some(&b), None));
        assert!(!k.verify("consent", Some(&b), Some("")));
        let other = CsrfKey::new(&MasterKey::from_bytes([2; 32]));
        assert!(!other.verify("consent", Some(&b), Some(&t)));
    }
}
