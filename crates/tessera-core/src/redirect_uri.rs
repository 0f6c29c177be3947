//! Redirect URIs: what may be registered (OAuth 2.1 §2.3.1, RFC 8252 §7,
//! RFC 9700 §4.1) and how a request's `redirect_uri` is matched: exactly,
//! except the port of a loopback IP literal for native apps (RFC 8252 §7.3).

use url::{Host, Url};

use crate::error::OAuthError;

const MAX_LEN: usize = 2000;

/// A `redirect_uri` that matched one the client registered. Only
/// [`match_registered`] makes one, so a code can never be sent elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRedirectUri(String);

impl VerifiedRedirectUri {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a URI a client wants to register; the error says why not.
pub fn validate_registration(s: &str) -> Result<(), String> {
    if s.len() > MAX_LEN {
        return Err(format!("redirect URI longer than {MAX_LEN} characters"));
    }
    if s.contains('*') {
        return Err("redirect URI must not contain wildcards".into());
    }
    if s.contains('#') {
        return Err("redirect URI must not contain a fragment".into());
    }
    let u = Url::parse(s).map_err(|_| "redirect URI must be an absolute URI".to_string())?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err("redirect URI must not contain user information".into());
    }
    match u.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&u) => Ok(()),
        "http" => Err("http redirect URIs are allowed only on loopback (127.0.0.1, [::1], localhost)".into()),
        "javascript" | "data" | "file" | "vbscript" | "about" | "blob" | "ws" | "wss" | "ftp" => {
            Err(format!("the {} scheme cannot be a redirect URI", u.scheme()))
        }
        // RFC 8252 §7.1: private-use schemes are reverse domain names.
        other if other.contains('.') => Ok(()),
        other => Err(format!(
            "custom scheme {other:?} must be a reverse domain name such as com.example.app (RFC 8252 §7.1)"
        )),
    }
}

/// Finds the registered URI `requested` matches (string equality, or a
/// loopback IP literal on another port).
pub fn match_registered(registered: &[String], requested: &str) -> Option<VerifiedRedirectUri> {
    if requested.len() > MAX_LEN {
        return None;
    }
    if registered.iter().any(|r| r == requested) {
        return Some(VerifiedRedirectUri(requested.to_string()));
    }
    let req = Url::parse(requested).ok()?;
    let userinfo = !req.username().is_empty() || req.password().is_some();
    if req.scheme() != "http" || !is_loopback_ip(&req) || req.fragment().is_some() || userinfo {
        return None;
    }
    for r in registered {
        let Ok(reg) = Url::parse(r) else { continue };
        if reg.scheme() == "http"
            && is_loopback_ip(&reg)
            && reg.host() == req.host()
            && reg.path() == req.path()
            && reg.query() == req.query()
            // The URL parser normalises; require the request to be in that
            // normal form too, so nothing rides on parser differences.
            && req.as_str() == requested
        {
            return Some(VerifiedRedirectUri(requested.to_string()));
        }
    }
    None
}

fn is_loopback(u: &Url) -> bool {
    is_loopback_ip(u) || u.host() == Some(Host::Domain("localhost"))
}

fn is_loopback_ip(u: &Url) -> bool {
    match u.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

/// For logout: `post_logout_redirect_uri` must be registered, exactly.
pub fn match_exact(registered: &[String], requested: &str) -> Result<VerifiedRedirectUri, OAuthError> {
    registered
        .iter()
        .find(|r| *r == requested)
        .map(|r| VerifiedRedirectUri(r.clone()))
        .ok_or_else(|| OAuthError::invalid_request("post_logout_redirect_uri is not registered for this client"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration() {
        for ok in [
            "https://app.example.com/cb",
            "https://app.example.com/cb?x=1",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "http://localhost:3000/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert_eq!(validate_registration(ok), Ok(()), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "https://app.example.com/cb#frag",
            "https://*.example.com/cb",
            "http://app.example.com/cb",
            "https://user@app.example.com/cb",
            "/relative",
            "myapp:/cb",
            "file:///etc/passwd",
        ] {
            assert!(validate_registration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn matching_is_exact() {
        let reg = vec!["https://app.example.com/cb".to_string(), "http://127.0.0.1/native".to_string()];
        assert!(match_registered(&reg, "https://app.example.com/cb").is_some());
        for bad in [
            "https://app.example.com/cb/",
            "https://APP.example.com/cb",
            "https://app.example.com/CB",
            "https://app.example.com/cb?x=1",
            "https://app.example.com/cb#x",
            "https://evil@app.example.com/cb",
            "https://app.example.com@evil.com/cb",
            "https://app.example.com/c%62",
            "https://app.example.com:8443/cb",
            "https://app.example.com/cb/../cb",
            "http://127.0.0.1.evil.com/native",
            "http://localhost/native",
        ] {
            assert!(match_registered(&reg, bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn loopback_ip_any_port() {
        let reg = vec!["http://127.0.0.1/native".to_string(), "http://[::1]:1234/cb".to_string()];
        assert!(match_registered(&reg, "http://127.0.0.1:49152/native").is_some());
        assert!(match_registered(&reg, "http://[::1]:5555/cb").is_some());
        assert!(match_registered(&reg, "http://127.0.0.1:49152/other").is_none());
        assert!(match_registered(&reg, "http://127.0.0.1:49152/native?x").is_none());
        assert!(match_registered(&reg, "http://user@127.0.0.1:49152/native").is_none());
        // Userinfo with an empty user name but a password matched (caught by
        // the redirect_uri fuzz harness's invariants).
        assert!(match_registered(&reg, "http://:pw@127.0.0.1:49152/native").is_none());
        assert!(match_registered(&reg, "http://:pw@[::1]:5555/cb").is_none());
    }
}
