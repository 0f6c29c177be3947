//! Refusals and their RFC 6750 §3 answers: `WWW-Authenticate: Bearer` with
//! `realm`, the error code and (RFC 9728 §5.1) `resource_metadata`, plus a
//! small JSON body with the same code. Where DPoP is accepted, RFC 9449
//! §7.1 `WWW-Authenticate: DPoP algs="…"` challenges (and `DPoP-Nonce`).

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::dpop::Schemes;
use crate::jwt::Invalid;

/// The proof algorithms named in DPoP challenges (those tessera-pop verifies).
pub const DPOP_ALGS: &str = "EdDSA ES256 ES384 PS256 RS256";

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// No bearer token at all (§3.1: the challenge carries no error code).
    #[error("no bearer token")]
    Missing,
    /// A malformed `Authorization` header, or a token where tokens are never
    /// accepted (the query string).
    #[error("invalid request: {0}")]
    BadRequest(&'static str),
    #[error("invalid token: {0}")]
    Invalid(Invalid),
    /// The token is good but lacks these scopes.
    #[error("insufficient scope; needs {0}")]
    InsufficientScope(String),
    /// Revocation state cannot be trusted or the issuer cannot be asked.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// The DPoP proof was refused: `code` is `invalid_dpop_proof`,
    /// `use_dpop_nonce` (with `nonce`, a fresh `DPoP-Nonce`) or
    /// `temporarily_unavailable` (RFC 9449 §7.1, §9).
    #[error("DPoP proof refused: {code}")]
    Dpop { code: &'static str, nonce: Option<String> },
}

/// What every challenge says about this API.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub realm: String,
    pub resource_metadata: String,
    /// Which schemes get a challenge. The default (a `Challenge` built by
    /// hand) answers Bearer only.
    pub schemes: Schemes,
}

impl Default for Challenge {
    fn default() -> Self {
        Self { realm: String::new(), resource_metadata: String::new(), schemes: Schemes::BearerOnly }
    }
}

impl Rejection {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Missing | Self::Invalid(_) => StatusCode::UNAUTHORIZED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::InsufficientScope(_) => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Dpop { code: "temporarily_unavailable", .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Dpop { .. } => StatusCode::UNAUTHORIZED,
        }
    }

    fn code(&self) -> Option<&'static str> {
        match self {
            Self::Missing => None,
            Self::BadRequest(_) => Some("invalid_request"),
            Self::Invalid(_) => Some("invalid_token"),
            Self::InsufficientScope(_) => Some("insufficient_scope"),
            Self::Unavailable(_) => Some("temporarily_unavailable"),
            Self::Dpop { code, .. } => Some(code),
        }
    }

    /// Safe to show the caller: the precise reason stays in our logs.
    fn description(&self) -> Option<String> {
        match self {
            Self::Missing => None,
            Self::BadRequest(why) => Some((*why).to_string()),
            Self::Invalid(Invalid::Expired) => Some("the access token expired".into()),
            Self::Invalid(Invalid::Revoked) => Some("the access token was revoked".into()),
            Self::Invalid(_) => Some("the access token is not valid for this API".into()),
            Self::InsufficientScope(s) => Some(format!("this request needs the scope(s): {s}")),
            Self::Unavailable(why) => Some(why.clone()),
            Self::Dpop { code: "use_dpop_nonce", .. } => {
                Some("a DPoP nonce is required; use the DPoP-Nonce header".into())
            }
            Self::Dpop { .. } => Some("the DPoP proof is not valid for this request".into()),
        }
    }

    /// The `WWW-Authenticate` values, one per accepted scheme (Bearer
    /// first); none for 503.
    pub fn challenges(&self, c: &Challenge) -> Vec<String> {
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            return Vec::new();
        }
        let mut out = Vec::new();
        if c.schemes.bearer()
            && !matches!(self, Self::Dpop { .. })
            && let Some(b) = self.challenge(c)
        {
            out.push(b);
        }
        if c.schemes.dpop() {
            out.push(self.dpop_challenge(c));
        }
        out
    }

    /// `realm`, `error`, `error_description`: common to both schemes.
    fn push_error_params(&self, c: &Challenge, parts: &mut Vec<String>) {
        if !c.realm.is_empty() {
            parts.push(format!("realm={}", quote(&c.realm)));
        }
        if let Some(code) = self.code() {
            parts.push(format!("error={}", quote(code)));
        }
        if let Some(d) = self.description() {
            parts.push(format!("error_description={}", quote(&d)));
        }
    }

    /// RFC 9449 §7.1: `DPoP algs="…"` with the realm and error code.
    fn dpop_challenge(&self, c: &Challenge) -> String {
        let mut parts = vec![format!("algs={}", quote(DPOP_ALGS))];
        self.push_error_params(c, &mut parts);
        format!("DPoP {}", parts.join(", "))
    }

    /// The Bearer `WWW-Authenticate` value, or `None` for 503.
    pub fn challenge(&self, c: &Challenge) -> Option<String> {
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            return None;
        }
        let mut parts = Vec::new();
        self.push_error_params(c, &mut parts);
        if let Self::InsufficientScope(s) = self {
            parts.push(format!("scope={}", quote(s)));
        }
        if !c.resource_metadata.is_empty() {
            parts.push(format!("resource_metadata={}", quote(&c.resource_metadata)));
        }
        Some(if parts.is_empty() { "Bearer".into() } else { format!("Bearer {}", parts.join(", ")) })
    }

    pub fn into_response_with(self, c: &Challenge) -> Response {
        if let Self::Invalid(why) = &self {
            tracing::debug!(reason = %why, "refused a token");
        }
        let status = self.status();
        let body = serde_json::json!({
            "error": self.code().unwrap_or("invalid_token"),
            "error_description": self.description().unwrap_or_else(|| "an access token is required".into()),
        });
        let mut r = (status, Json(body)).into_response();
        for v in self.challenges(c).iter().filter_map(|v| HeaderValue::from_str(v).ok()) {
            r.headers_mut().append(header::WWW_AUTHENTICATE, v);
        }
        if let Self::Dpop { nonce: Some(n), .. } = &self
            && let Ok(v) = HeaderValue::from_str(n)
        {
            r.headers_mut().insert("dpop-nonce", v);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

/// RFC 9110 §5.6.4 quoted-string; anything not printable ASCII is dropped.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars().filter(|c| c.is_ascii() && !c.is_ascii_control()) {
        if ch == '"' || ch == '\\' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

/// RFC 6750 §2.1 `b64token`.
pub(crate) fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'))
}

/// RFC 6750 §2.1: `Bearer` (any case), one or more spaces, a b64token.
/// Another scheme counts as no bearer token.
pub(crate) fn bearer_token(value: Option<&[u8]>) -> Result<&str, Rejection> {
    let Some(v) = value else { return Err(Rejection::Missing) };
    let v = std::str::from_utf8(v).map_err(|_| Rejection::BadRequest("malformed Authorization header"))?;
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Rejection::Missing);
    }
    let token = rest.trim_start_matches(' ');
    if !is_b64token(token) {
        return Err(Rejection::BadRequest("malformed Authorization header: expected Bearer <token>"));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer_token(Some(b"Bearer abc.def-_~+/==")), Ok("abc.def-_~+/=="));
        assert_eq!(bearer_token(Some(b"bearer   abc")), Ok("abc"));
        assert_eq!(bearer_token(None), Err(Rejection::Missing));
        assert_eq!(bearer_token(Some(b"Basic YTpi")), Err(Rejection::Missing));
        for bad in [&b"Bearer"[..], b"Bearer ", b"Bearer a b", b"Bearer a\"b", b"Bearer \xff", b"Bearer ==="] {
            assert!(matches!(bearer_token(Some(bad)), Err(Rejection::BadRequest(_))), "{bad:?}");
        }
    }

    #[test]
    fn challenges_follow_rfc_6750() {
        let c = Challenge {
            realm: "inv\"entory".into(),
            resource_metadata: "https://api/.well-known/oauth-protected-resource".into(),
            ..Challenge::default()
        };
        assert_eq!(
            Rejection::Missing.challenge(&c).unwrap(),
            r#"Bearer realm="inv\"entory", resource_metadata="https://api/.well-known/oauth-protected-resource""#
        );
        let s = Rejection::InsufficientScope("inventory:write".into()).challenge(&c).unwrap();
        assert!(s.contains(r#"error="insufficient_scope""#) && s.contains(r#"scope="inventory:write""#), "{s}");
        let s = Rejection::Invalid(Invalid::BadSignature).challenge(&c).unwrap();
        assert!(s.contains(r#"error="invalid_token""#) && !s.contains("signature"), "{s}");
        assert_eq!(Rejection::Unavailable("x".into()).challenge(&c), None);
    }
}
