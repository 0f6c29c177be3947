//! CSRF tokens for the browser forms: the signed double-submit pattern
//! (OWASP CSRF Cheat Sheet). A random per-browser value lives in a cookie;
//! each form carries HMAC(key, purpose || value). A cross-site page can
//! neither read the cookie nor compute the MAC, and nothing is stored, so
//! every node sharing the master key accepts every other node's forms.

use aws_lc_rs::hmac;
use base64ct::{Base64UrlUnpadded, Encoding};
use subtle::ConstantTimeEq;
use tessera_proto::Redacted;

use crate::keys::MasterKey;
use crate::random::Random;

pub struct CsrfKey(hmac::Key);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CsrfKey").field(&Redacted).finish()
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

    /// The token of a form that belongs to one authorization request: it
    /// carries when the request first arrived (`started_at`) and is bound
    /// to the request's parameters and, once there is one, the session the
    /// form was shown to. `started_at.mac`.
    pub fn flow_token(
        &self,
        purpose: &str,
        binding: &str,
        started_at: i64,
        request: &str,
        session_id: Option<&str>,
    ) -> String {
        let p = flow_purpose(purpose, started_at, request, session_id);
        format!("{started_at}.{}", self.token(&p, binding))
    }

    /// `started_at` of a valid [`Self::flow_token`]; `None` if it was made for
    /// another purpose, browser, request or session, or not by us.
    pub fn verify_flow(
        &self,
        purpose: &str,
        binding: Option<&str>,
        token: Option<&str>,
        request: &str,
        session_id: Option<&str>,
    ) -> Option<i64> {
        let (started, mac) = token?.split_once('.')?;
        // At most 20 digits: bounded before it is parsed.
        let started_at: i64 = started.get(..started.len().min(20)).filter(|s| *s == started)?.parse().ok()?;
        let p = flow_purpose(purpose, started_at, request, session_id);
        self.verify(&p, binding, Some(mac)).then_some(started_at)
    }

    pub fn verify(&self, purpose: &str, binding: Option<&str>, token: Option<&str>) -> bool {
        let (Some(binding), Some(token)) = (binding, token) else { return false };
        if binding.len() < 16 {
            return false;
        }
        self.token(purpose, binding).as_bytes().ct_eq(token.as_bytes()).into()
    }
}

fn flow_purpose(purpose: &str, started_at: i64, request: &str, session_id: Option<&str>) -> String {
    let digest = crate::secret::Digest::of(request.as_bytes()).to_hex();
    format!("{purpose}\nflow\n{started_at}\n{}\n{digest}", session_id.unwrap_or("-"))
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

    #[test]
    fn flow_tokens_are_bound_to_request_session_and_time() {
        let k = CsrfKey::new(&MasterKey::from_bytes([1; 32]));
        let b = CsrfKey::binding(&SeededRandom::new(1));
        let t = k.flow_token("consent", &b, 1000, "client_id=a&prompt=login", Some("s1"));
        assert_eq!(k.verify_flow("consent", Some(&b), Some(&t), "client_id=a&prompt=login", Some("s1")), Some(1000));
        assert_eq!(k.verify_flow("consent", Some(&b), Some(&t), "client_id=a", Some("s1")), None, "request");
        assert_eq!(k.verify_flow("consent", Some(&b), Some(&t), "client_id=a&prompt=login", Some("s2")), None);
        assert_eq!(k.verify_flow("login", Some(&b), Some(&t), "client_id=a&prompt=login", Some("s1")), None);
        let later = t.replacen("1000.", "999.", 1);
        assert_eq!(k.verify_flow("consent", Some(&b), Some(&later), "client_id=a&prompt=login", Some("s1")), None);
        for junk in ["", ".", "1000", "x.y", "-1.abc", &format!("{}.{}", "9".repeat(30), "a")] {
            assert_eq!(k.verify_flow("consent", Some(&b), Some(junk), "r", Some("s1")), None, "{junk}");
        }
    }
}
