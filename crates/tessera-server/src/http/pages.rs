//! Server-rendered pages (askama templates in `templates/`, auto-escaped),
//! their cookies and the headers every page carries: no framing
//! (`X-Frame-Options: DENY`, CSP `frame-ancestors 'none'`), no referrer, no
//! caching, and a CSP that allows nothing but our own stylesheet.

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_core::OAuthError;
use tessera_core::endpoint::authorize::ScopeLine;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'";
pub const CSS: &str = include_str!("../../assets/tessera.css");

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub issuer: &'a str,
    pub csrf: String,
    pub request: Option<&'a str>,
    pub client_name: Option<&'a str>,
    pub username: &'a str,
    pub error: Option<String>,
    /// A page of ours to go back to after signing in (`/device…`).
    pub return_to: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub issuer: &'a str,
    pub csrf: String,
    pub request: &'a str,
    pub client_name: &'a str,
    pub username: &'a str,
    pub scopes: &'a [ScopeLine],
    pub redirect_host: String,
}

/// The device verification page (RFC 8628 §3.3): enter a code, or confirm one.
#[derive(Template)]
#[template(path = "device.html")]
pub struct DevicePage<'a> {
    pub issuer: &'a str,
    pub csrf: String,
    pub username: &'a str,
    pub user_code: &'a str,
    pub error: Option<String>,
    pub confirm: Option<DeviceConfirm<'a>>,
}

pub struct DeviceConfirm<'a> {
    pub client_name: &'a str,
    pub user_code: &'a str,
    pub scopes: &'a [ScopeLine],
}

/// The hidden fields of the sign-out confirmation.
pub struct LogoutForm {
    pub csrf: String,
    pub fields: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub issuer: &'a str,
    pub title: &'a str,
    pub message: &'a str,
    pub error: bool,
    pub code: Option<&'a str>,
    pub logout: Option<LogoutForm>,
}

/// Renders a page with the headers every page carries.
pub fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => {
            let mut r = (status, body).into_response();
            secure_headers(r.headers_mut());
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            let mut r = (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
            secure_headers(r.headers_mut());
            r
        }
    }
}

pub fn secure_headers(h: &mut HeaderMap) {
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A browser-facing error: an HTML page, never a redirect. Store outages
/// are 503; the cause is logged, only the description is shown.
pub fn error_page(issuer: &str, e: &OAuthError) -> Response {
    let status = super::error::status_of(e.code);
    if let Some(cause) = e.detail() {
        tracing::warn!(error = %e.code, %cause, "browser request failed");
    }
    let title = if status.is_server_error() { "Something went wrong" } else { "This request cannot be completed" };
    let page =
        MessagePage { issuer, title, message: &e.description, error: true, code: Some(e.code.as_str()), logout: None };
    html(status, &page)
}

/// `303 See Other`: after a form POST the browser follows with a GET.
pub fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    match HeaderValue::from_str(location) {
        Ok(v) => {
            r.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR,
    }
    secure_headers(r.headers_mut());
    r
}

/// Cookie names and attributes. On an https issuer the `__Host-` prefix
/// pins them to this host and path `/`, with `Secure`; a plain-http issuer
/// (loopback only) gets unprefixed names, as browsers refuse `Secure` there.
#[derive(Debug, Clone)]
pub struct Cookies {
    secure: bool,
    pub session: &'static str,
    pub csrf: &'static str,
}

impl Cookies {
    pub fn new(issuer: &str) -> Self {
        let secure = issuer.starts_with("https://");
        if secure {
            Self { secure, session: "__Host-tessera_session", csrf: "__Host-tessera_csrf" }
        } else {
            Self { secure, session: "tessera_session", csrf: "tessera_csrf" }
        }
    }

    /// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
    pub fn set(&self, name: &str, value: &str, max_age: i64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
    }
}

/// The value of cookie `name` from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_by_scheme() {
        let https = Cookies::new("https://id.example.com");
        assert_eq!(https.session, "__Host-tessera_session");
        let c = https.set(https.session, "v", 60);
        assert!(c.contains("Secure") && c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/"));
        let http = Cookies::new("http://127.0.0.1:8080");
        assert_eq!(http.session, "tessera_session");
        assert!(!http.set(http.session, "v", 60).contains("Secure"));
    }

    #[test]
    fn cookie_lookup() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; tessera_session=tsr_ss_x"));
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, "tessera_session"), Some("tsr_ss_x"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn pages_escape_what_they_show() {
        let p = MessagePage {
            issuer: "https://as",
            title: "t",
            message: "<script>alert(1)</script>",
            error: true,
            code: None,
            logout: None,
        };
        let body = p.render().unwrap_or_default();
        assert!(body.contains("&#60;script&#62;") || body.contains("&lt;script&gt;"), "{body}");
    }
}
