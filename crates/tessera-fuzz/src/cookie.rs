//! The `Cookie` header (`tessera_server::http::pages::cookie`) and the
//! signed double-submit CSRF tokens (`tessera_core::csrf`).

use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue, header};
use tessera_core::csrf::CsrfKey;
use tessera_core::keys::MasterKey;
use tessera_server::http::pages::cookie;

const NAMES: [&str; 4] = ["tessera_session", "tessera_csrf", "__Host-tessera_session", "__Host-tessera_csrf"];
const PURPOSES: [&str; 3] = ["login", "consent", "logout"];

fn key() -> &'static CsrfKey {
    static K: OnceLock<CsrfKey> = OnceLock::new();
    K.get_or_init(|| CsrfKey::new(&MasterKey::from_bytes([7; 32])))
}

/// Each line is one `Cookie` header; the last line is also the form's
/// `csrf` field. A cookie value found is a `name=value` pair of some header
/// and holds no `;`. A token verifies exactly when it is the MAC of that
/// purpose and binding, and a binding's own token always does.
pub fn cookie_csrf(data: &[u8]) {
    let mut h = HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        if let Ok(v) = HeaderValue::from_bytes(line) {
            h.append(header::COOKIE, v);
        }
    }
    let form_token = data.rsplit(|b| *b == b'\n').next().and_then(|t| std::str::from_utf8(t).ok());
    for name in NAMES {
        let Some(value) = cookie(&h, name) else { continue };
        assert!(!value.contains(';'), "{value:?}");
        let pair = format!("{name}={value}");
        assert!(h.get_all(header::COOKIE).iter().any(|v| v.to_str().is_ok_and(|v| v.contains(&pair))));
        for purpose in PURPOSES {
            let expected = value.len() >= 16 && form_token == Some(key().token(purpose, value).as_str());
            assert_eq!(key().verify(purpose, Some(value), form_token), expected, "{purpose} {value:?}");
            let own = key().token(purpose, value);
            assert_eq!(key().verify(purpose, Some(value), Some(&own)), value.len() >= 16);
            let other = if purpose == "login" { "consent" } else { "login" };
            assert!(!key().verify(other, Some(value), Some(&own)), "token valid for another purpose");
        }
    }
}
