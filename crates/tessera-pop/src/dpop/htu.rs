//! The `htu` comparison (RFC 9449 §4.3 point 9): the URL the proof names
//! and the URL the request reached, both without query and fragment, after
//! the syntax- and scheme-based normalisation of RFC 3986 §6.2.2–6.2.3:
//! scheme and host in lower case, the default port dropped, an empty path
//! made `/`, dot segments removed, percent-encodings in upper case and those
//! of unreserved characters decoded.
//!
//! The expected side is built by the caller from its configuration (the
//! issuer or the resource's public URL), never from `Host` or
//! `X-Forwarded-*`: a proof is for a URL the server knows it serves.

/// A normalised absolute `http`/`https` URL without query and fragment,
/// built once from configuration and compared with each proof's `htu`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TargetUri(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an absolute http(s) URL with a host and no user information")]
pub struct InvalidTargetUri;

impl TargetUri {
    pub fn new(url: &str) -> Result<Self, InvalidTargetUri> {
        normalize(url).map(Self).ok_or(InvalidTargetUri)
    }

    /// The normalised form, e.g. `https://as.example/oauth2/token`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TargetUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `None` for anything that is not an absolute http(s) URL with a host.
/// User information is refused: no proof should name it, and a URL that
/// carries it is not one a server is configured with.
pub(crate) fn normalize(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https") || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    // `url` already lower-cases the scheme and a domain, drops a default
    // port, turns an empty path into `/` and removes dot segments.
    let host = url.host_str()?;
    let mut out = String::with_capacity(raw.len());
    out.push_str(url.scheme());
    out.push_str("://");
    out.push_str(host);
    if let Some(port) = url.port() {
        out.push(':');
        out.push_str(&port.to_string());
    }
    push_path(&mut out, url.path());
    Some(out)
}

/// Copies a path, upper-casing each `%XX` and decoding it when it stands
/// for an unreserved character (RFC 3986 §2.3, §6.2.2.1–6.2.2.2).
fn push_path(out: &mut String, path: &str) {
    let b = path.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%'
            && let (Some(h), Some(l)) = (b.get(i + 1).and_then(hex), b.get(i + 2).and_then(hex))
        {
            let v = (h << 4) | l;
            if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(v));
            } else {
                out.push('%');
                out.push(char::from(HEX[usize::from(h)]));
                out.push(char::from(HEX[usize::from(l)]));
            }
            i += 3;
            continue;
        }
        // `url` leaves only ASCII in a serialised path.
        out.push(char::from(c));
        i += 1;
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn hex(c: &u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalent_urls_normalise_alike() {
        let want = Some("https://as.example/oauth2/token".to_owned());
        for u in [
            "https://as.example/oauth2/token",
            "HTTPS://AS.Example/oauth2/token",
            "https://as.example:443/oauth2/token",
            "https://as.example/oauth2/token?x=1",
            "https://as.example/oauth2/token#frag",
            "https://as.example/oauth2/./x/../token",
            "https://as.example/%6Fauth2/%74oken",
        ] {
            assert_eq!(normalize(u), want, "{u}");
        }
        assert_eq!(normalize("http://h:80"), Some("http://h/".into()));
        assert_eq!(normalize("http://h:8080/a%2fb"), Some("http://h:8080/a%2Fb".into()));
        assert_eq!(normalize("https://[::1]:8443/t"), Some("https://[::1]:8443/t".into()));
        assert_eq!(normalize("https://h/a%"), Some("https://h/a%".into()));
    }

    #[test]
    fn different_urls_stay_different() {
        let n = |u| normalize(u);
        assert_ne!(n("https://as.example/token"), n("http://as.example/token"));
        assert_ne!(n("https://as.example/token"), n("https://as.example:8443/token"));
        assert_ne!(n("https://as.example/token"), n("https://as.example/Token"));
        assert_ne!(n("https://as.example/token"), n("https://as.example/token/"));
        assert_ne!(n("https://as.example/a%2Fb"), n("https://as.example/a/b"));
    }

    #[test]
    fn non_http_urls_are_refused() {
        for u in ["", "/token", "ftp://h/x", "https://user:pw@h/x", "https://user@h/x", "urn:x:y", "file:///etc"] {
            assert_eq!(normalize(u), None, "{u}");
            assert_eq!(TargetUri::new(u), Err(InvalidTargetUri));
        }
    }
}
