//! Form parameters, client credentials and the token request.

use std::sync::OnceLock;

use axum::extract::FromRequest;
use axum::http::{Method, Request, header};
use base64ct::{Base64, Encoding};
use tessera_core::client_auth::{self, AuthMethod};
use tessera_core::grant::TokenRequest;
use tessera_core::params::Params;
use tessera_proto::ErrorCode;
use tessera_server::http::request::OAuthRequest;

use crate::{check_error, first_line};

/// `Params::parse`: at most 64 pairs, no empty values, no repeats but
/// `resource`; `encode` then `parse` gives the same parameters back.
pub fn form(data: &[u8]) {
    match Params::parse(data) {
        Ok(p) => check_params(&p),
        Err(e) => check_error(&e),
    }
}

fn check_params(p: &Params) {
    let encoded = p.encode();
    let pairs: Vec<(String, String)> = form_urlencoded::parse(encoded.as_bytes()).into_owned().collect();
    assert!(pairs.len() <= 64, "{} parameters accepted", pairs.len());
    for (i, (k, v)) in pairs.iter().enumerate() {
        assert!(!v.is_empty(), "empty value kept for {k:?}");
        if k != "resource" {
            assert!(!pairs[..i].iter().any(|(n, _)| n == k), "{k:?} accepted twice");
            assert_eq!(p.get(k), Some(v.as_str()));
        }
    }
    let again = Params::parse(encoded.as_bytes()).unwrap_or_else(|e| panic!("re-parse failed: {e:?}"));
    assert_eq!(again.encode(), encoded, "encode/parse is not a fixpoint");
}

/// `client_auth::extract`, the first line being the `Authorization` header
/// and the rest the form: a Basic header yields non-empty halves that
/// survive re-encoding; credentials are never in `Debug`.
pub fn basic_auth(data: &[u8]) {
    let (header, body) = first_line(data);
    let Ok(header) = std::str::from_utf8(header) else { return };
    let Ok(params) = Params::parse(body) else { return };
    match client_auth::extract(Some(header), &params) {
        Ok(Some(c)) => {
            assert_eq!(c.method, AuthMethod::ClientSecretBasic);
            let secret = c.secret.as_ref().map(|s| s.expose().to_string()).unwrap_or_default();
            assert!(!c.client_id.is_empty() && !secret.is_empty(), "empty Basic credential accepted");
            // Debug with the id blanked must not show the secret, unless the
            // secret is a piece of the fixed text itself (`redacted`).
            let shown = format!("{c:?}").replacen(&format!("{:?}", c.client_id), "\"\"", 1);
            let blank = client_auth::PresentedCredentials {
                client_id: String::new(),
                secret: Some(tessera_core::secret::Secret::new("")),
                method: c.method,
            };
            let skeleton = format!("{blank:?}");
            if !skeleton.contains(&secret) {
                assert!(!shown.contains(&secret), "secret in Debug output");
            }
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let again = format!(
                "Basic {}",
                Base64::encode_string(format!("{}:{}", enc(&c.client_id), enc(&secret)).as_bytes())
            );
            let back = client_auth::extract(Some(&again), &params)
                .unwrap_or_else(|e| panic!("re-encoded credentials refused: {e:?}"))
                .unwrap_or_else(|| panic!("re-encoded credentials lost"));
            assert_eq!(back.client_id, c.client_id);
            assert_eq!(back.secret.as_ref().map(|s| s.expose()), Some(secret.as_str()));
        }
        Ok(None) => panic!("an Authorization header was ignored"),
        Err(e) => {
            check_error(&e);
            assert!(matches!(e.code, ErrorCode::InvalidRequest), "{:?}", e.code);
        }
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime"))
}

/// The token endpoint's request as the server sees it: line 1 the
/// `Content-Type`, line 2 the `Authorization` header (empty: none), the rest
/// the body; through [`OAuthRequest`], `client_auth::extract` and
/// [`TokenRequest::parse`]. Every refusal is a well-formed RFC 6749 §5.2 error.
pub fn token_request(data: &[u8]) {
    let (content_type, rest) = first_line(data);
    let (authorization, body) = first_line(rest);
    let mut req = Request::builder().method(Method::POST).uri("/oauth2/token");
    if let Ok(v) = axum::http::HeaderValue::from_bytes(content_type) {
        req = req.header(header::CONTENT_TYPE, v);
    }
    if !authorization.is_empty()
        && let Ok(v) = axum::http::HeaderValue::from_bytes(authorization)
    {
        req = req.header(header::AUTHORIZATION, v);
    }
    let Ok(req) = req.body(axum::body::Body::from(body.to_vec())) else { return };
    let parsed = runtime().block_on(OAuthRequest::from_request(req, &()));
    let r = match parsed {
        Ok(r) => r,
        Err(e) => return check_error(&e.0),
    };
    check_params(&r.params);
    if let Err(e) = client_auth::extract(r.authorization(), &r.params) {
        check_error(&e);
    }
    match TokenRequest::parse(&r.params) {
        Ok(t) => {
            let grant = r.params.get("grant_type").unwrap_or_default();
            let required: &[&str] = match t {
                TokenRequest::ClientCredentials(_) => &[],
                TokenRequest::AuthorizationCode(_) => &["code", "redirect_uri", "code_verifier"],
                TokenRequest::RefreshToken(_) => &["refresh_token"],
                TokenRequest::DeviceCode(_) => &["device_code"],
            };
            assert!(
                ["client_credentials", "authorization_code", "refresh_token", tessera_core::client::DEVICE_CODE_GRANT]
                    .contains(&grant),
                "grant_type {grant:?} accepted"
            );
            for name in required {
                assert!(r.params.get(name).is_some_and(|v| !v.is_empty()), "{name} missing but accepted");
            }
        }
        Err(e) => {
            check_error(&e);
            let allowed = [
                ErrorCode::InvalidRequest,
                ErrorCode::InvalidScope,
                ErrorCode::InvalidTarget,
                ErrorCode::UnsupportedGrantType,
            ];
            assert!(allowed.contains(&e.code), "unexpected error code {:?}", e.code);
        }
    }
}
