//! The signature base (RFC 9421 §2.5) and the component values it is made
//! of: HTTP fields (§2.1) and the derived components (§2.2) `@method`,
//! `@target-uri`, `@authority`, `@scheme`, `@request-target`, `@path`,
//! `@query`, `@query-param` and `@status`.

use super::{Component, SignatureError};

/// The parts of an HTTP message a signature can cover. No web framework
/// types: the verifier fills it from its own request type, with the target
/// URI it is configured to serve (its public URL, never one built from
/// `Host` or `X-Forwarded-*`).
#[derive(Clone)]
pub struct Message<'a> {
    pub(super) method: &'a str,
    pub(super) target_uri: &'a str,
    pub(super) status: Option<u16>,
    pub(super) headers: Vec<(&'a str, &'a str)>,
    pub(super) body: Option<&'a [u8]>,
}

impl std::fmt::Debug for Message<'_> {
    // Header values (an `Authorization` among them) are left out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("method", &self.method)
            .field("target_uri", &self.target_uri)
            .field("status", &self.status)
            .field("headers", &self.headers.len())
            .field("body", &self.body.map(<[u8]>::len))
            .finish()
    }
}

impl<'a> Message<'a> {
    /// A request: its method and absolute target URI
    /// (`https://api.example/items?x=1`).
    pub fn request(method: &'a str, target_uri: &'a str) -> Self {
        Message { method, target_uri, status: None, headers: Vec::new(), body: None }
    }

    /// A response with its status code (only `@status` and fields can be
    /// covered).
    pub fn response(status: u16) -> Self {
        Message { method: "", target_uri: "", status: Some(status), headers: Vec::new(), body: None }
    }

    /// Adds one header field line (a name may repeat; names are compared
    /// case-insensitively).
    pub fn header(mut self, name: &'a str, value: &'a str) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Sets the body (the content, as sent or received).
    pub fn body(mut self, body: &'a [u8]) -> Self {
        self.body = Some(body);
        self
    }

    /// The body, if one was set.
    pub fn body_bytes(&self) -> Option<&'a [u8]> {
        self.body
    }

    /// All instances of a field, trimmed and joined with `", "` (§2.1);
    /// `None` when the message has none.
    pub fn field(&self, name: &str) -> Option<String> {
        let mut out: Option<String> = None;
        for (n, v) in &self.headers {
            if n.eq_ignore_ascii_case(name) {
                let v = v.trim_matches([' ', '\t']);
                match &mut out {
                    None => out = Some(v.to_owned()),
                    Some(s) => {
                        s.push_str(", ");
                        s.push_str(v);
                    }
                }
            }
        }
        out
    }
}

/// An absolute target URI, split (RFC 3986 §3).
struct Target<'a> {
    scheme: &'a str,
    authority: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    /// The URI without a fragment.
    uri: &'a str,
}

fn split_target(uri: &str) -> Result<Target<'_>, SignatureError> {
    let bad = || SignatureError::BadTargetUri;
    let uri = uri.split('#').next().unwrap_or_default();
    let (scheme, rest) = uri.split_once("://").ok_or_else(bad)?;
    if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) {
        return Err(bad());
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(end);
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    Ok(Target { scheme, authority, path, query, uri })
}

/// `@authority` (§2.2.3): lowercased, the scheme's default port dropped.
fn normalized_authority(t: &Target<'_>) -> String {
    let a = t.authority.to_ascii_lowercase();
    let default = if t.scheme.eq_ignore_ascii_case("https") {
        ":443"
    } else if t.scheme.eq_ignore_ascii_case("http") {
        ":80"
    } else {
        return a;
    };
    match a.strip_suffix(default) {
        Some(host) if !host.ends_with(':') => host.to_owned(),
        _ => a,
    }
}

/// Percent-decodes `s` as `application/x-www-form-urlencoded` (`+` is a
/// space), then re-encodes it with that set's percent-encoding and
/// space as `%20` (§2.2.8).
fn requery(s: &str) -> String {
    let hex = |c: Option<&u8>| c.and_then(|&c| (c as char).to_digit(16));
    let b = s.as_bytes();
    let mut raw = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], hex(b.get(i + 1)), hex(b.get(i + 2))) {
            (b'%', Some(h), Some(l)) => {
                // h, l < 16: the byte fits.
                raw.push(u8::try_from(h * 16 + l).unwrap_or_default());
                i += 3;
                continue;
            }
            (b'+', _, _) => raw.push(b' '),
            (c, _, _) => raw.push(c),
        }
        i += 1;
    }
    let mut out = String::with_capacity(raw.len());
    for c in raw {
        if c.is_ascii_alphanumeric() || b"*-._".contains(&c) {
            out.push(char::from(c));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(c >> 4)]));
            out.push(char::from(HEX[usize::from(c & 15)]));
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The value of one component for `msg` (§2.1, §2.2).
pub(super) fn component_value(msg: &Message<'_>, c: &Component) -> Result<String, SignatureError> {
    let target = || {
        if msg.status.is_some() {
            Err(SignatureError::NotInMessage(c.to_string()))
        } else {
            split_target(msg.target_uri)
        }
    };
    let v = match c {
        Component::Method => {
            target()?;
            msg.method.to_owned()
        }
        Component::TargetUri => target()?.uri.to_owned(),
        Component::Authority => normalized_authority(&target()?),
        Component::Scheme => target()?.scheme.to_ascii_lowercase(),
        Component::RequestTarget => {
            let t = target()?;
            let path = if t.path.is_empty() { "/" } else { t.path };
            match t.query {
                Some(q) => format!("{path}?{q}"),
                None => path.to_owned(),
            }
        }
        Component::Path => {
            let t = target()?;
            if t.path.is_empty() { "/" } else { t.path }.to_owned()
        }
        Component::Query => format!("?{}", target()?.query.unwrap_or_default()),
        Component::QueryParam(name) => {
            let query = target()?.query.unwrap_or_default();
            let mut found = None;
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
                if requery(n) == *name {
                    if found.is_some() {
                        // §2.2.8: a repeated parameter cannot be covered alone.
                        return Err(SignatureError::AmbiguousQueryParam(name.clone()));
                    }
                    found = Some(requery(v));
                }
            }
            found.ok_or_else(|| SignatureError::NotInMessage(c.to_string()))?
        }
        Component::Status => msg.status.ok_or_else(|| SignatureError::NotInMessage(c.to_string()))?.to_string(),
        Component::Field(name) => msg.field(name).ok_or_else(|| SignatureError::NotInMessage(c.to_string()))?,
    };
    if v.contains(['\r', '\n']) {
        return Err(SignatureError::BadComponentValue(c.to_string()));
    }
    Ok(v)
}

/// The signature base (§2.5): one line per covered component, then the
/// `@signature-params` line, whose value is the serialized inner list
/// (`signature_params`), with no trailing newline.
pub(super) fn signature_base(
    msg: &Message<'_>,
    components: &[Component],
    signature_params: &str,
) -> Result<String, SignatureError> {
    let mut base = String::with_capacity(256);
    for c in components {
        let value = component_value(msg, c)?;
        base.push_str(&c.to_string());
        base.push_str(": ");
        base.push_str(&value);
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(signature_params);
    Ok(base)
}
