//! The device authorization grant in the browser (RFC 8628 §3.3): the
//! verification page at `/device`, where a signed-in person enters the code
//! their TV or CLI shows, checks it, and approves or denies. The device's
//! own endpoint (`POST /oauth2/device_authorization`) is in `oauth.rs`.

use axum::extract::State;
use axum::http::{Extensions, HeaderMap, StatusCode, Uri};
use axum::response::Response;
use tessera_core::OAuthError;
use tessera_core::endpoint::authorize::SignedIn;
use tessera_core::endpoint::device::{DeviceLookupError, decision_purpose};
use tessera_core::params::Params;
use tessera_core::throttle;
use tessera_proto::ErrorCode;

use super::AppState;
use super::browser::{
    Body, csrf_binding, csrf_failed, csrf_ok, html_with_cookie, issuer, login_page_to, message, read_form, session,
};
use super::client_addr::ClientAddr;
use super::pages::{DeviceConfirm, DevicePage, error_page};

/// `GET /device[?user_code=…]`: sign in first, then the code (prefilled from
/// `verification_uri_complete`) is shown for the person to compare.
pub async fn device_get(State(s): State<AppState>, headers: HeaderMap, ext: Extensions, uri: Uri) -> Response {
    let p = Params::parse(uri.query().unwrap_or("").as_bytes()).unwrap_or_default();
    let user_code = p.get("user_code").unwrap_or("").to_string();
    let who = match session(&s, &headers).await {
        Ok(Some(w)) => w,
        Ok(None) => {
            let back = if user_code.is_empty() {
                "/device".to_string()
            } else {
                format!(
                    "/device?{}",
                    form_urlencoded::Serializer::new(String::new()).append_pair("user_code", &user_code).finish()
                )
            };
            return login_page_to(&s, &headers, None, Some(&back), "", None, StatusCode::OK);
        }
        Err(e) => return error_page(issuer(&s), &e),
    };
    if user_code.is_empty() {
        return page(&s, &headers, &who, "", None);
    }
    confirm(&s, &headers, &ext, &who, &user_code).await
}

/// `POST /device`: a code entered (→ the confirmation), or a decision. A
/// decision's CSRF token is made for the code the confirmation showed and
/// the person it showed it to, so a forged or edited form decides nothing.
pub async fn device_post(State(s): State<AppState>, headers: HeaderMap, ext: Extensions, body: Body) -> Response {
    let form = match read_form(&s, body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let who = match session(&s, &headers).await {
        Ok(Some(w)) => w,
        Ok(None) => {
            if !csrf_ok(&s, &headers, "device", &form) && form.get("decision").is_none() {
                return csrf_failed(&s);
            }
            return login_page_to(&s, &headers, None, Some("/device"), "", None, StatusCode::OK);
        }
        Err(e) => return error_page(issuer(&s), &e),
    };
    let user_code = form.get("user_code").unwrap_or("");
    let approve = match form.get("decision") {
        None => {
            if !csrf_ok(&s, &headers, "device", &form) {
                return csrf_failed(&s);
            }
            return confirm(&s, &headers, &ext, &who, user_code).await;
        }
        Some("approve") => true,
        Some("deny") => false,
        Some(_) => return error_page(issuer(&s), &OAuthError::invalid_request("choose Approve or Deny")),
    };
    let bound = decision_purpose(user_code, &who.user.id).is_some_and(|p| csrf_ok(&s, &headers, &p, &form));
    if !bound {
        return csrf_failed(&s);
    }
    match s.authority.device_decide(user_code, &who, approve, &throttle_keys(&ext, &who)).await {
        Ok(()) if approve => message(&s, "Device connected", "You can return to your device: it is signed in."),
        Ok(()) => message(&s, "Request denied", "The device was not given access. You can close this page."),
        Err(DeviceLookupError::Invalid) => page(
            &s,
            &headers,
            &who,
            "",
            Some("That code has expired or was already used. Start again on your device.".into()),
        ),
        Err(e) => lookup_error(&s, &headers, &who, user_code, e),
    }
}

/// Wrong codes are counted per person and per address.
fn throttle_keys(ext: &Extensions, who: &SignedIn) -> [String; 2] {
    let ip = ClientAddr::of(ext).map(|ip| ip.to_string()).unwrap_or_default();
    [format!("device-user:{}", who.user.id), format!("device-{}", throttle::address_key(&ip))]
}

async fn confirm(s: &AppState, headers: &HeaderMap, ext: &Extensions, who: &SignedIn, user_code: &str) -> Response {
    match s.authority.device_lookup(user_code, &throttle_keys(ext, who)).await {
        Ok(req) => {
            let (binding, set) = csrf_binding(s, headers);
            let purpose = decision_purpose(&req.user_code, &who.user.id).unwrap_or_default();
            let p = DevicePage {
                issuer: issuer(s),
                csrf: s.authority.csrf().token(&purpose, &binding),
                username: &who.user.username,
                user_code: &req.user_code,
                error: None,
                confirm: Some(DeviceConfirm {
                    client_name: &req.client.name,
                    user_code: &req.user_code,
                    scopes: &req.scopes,
                }),
            };
            html_with_cookie(StatusCode::OK, &p, set)
        }
        Err(e) => lookup_error(s, headers, who, user_code, e),
    }
}

fn lookup_error(s: &AppState, headers: &HeaderMap, who: &SignedIn, user_code: &str, e: DeviceLookupError) -> Response {
    match e {
        DeviceLookupError::Invalid => {
            page(s, headers, who, user_code, Some("That code is not valid. Check it and try again.".into()))
        }
        DeviceLookupError::Throttled(secs) => {
            let mut r =
                page(s, headers, who, user_code, Some(format!("Too many wrong codes. Try again in {secs} seconds.")));
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            r
        }
        DeviceLookupError::Unavailable(cause) => {
            let e = OAuthError::new(ErrorCode::TemporarilyUnavailable, "temporarily unavailable");
            error_page(issuer(s), &e.with_source(cause))
        }
        DeviceLookupError::Internal(cause) => error_page(issuer(s), &OAuthError::internal(cause)),
    }
}

fn page(s: &AppState, headers: &HeaderMap, who: &SignedIn, user_code: &str, error: Option<String>) -> Response {
    let (binding, set) = csrf_binding(s, headers);
    let p = DevicePage {
        issuer: issuer(s),
        csrf: s.authority.csrf().token("device", &binding),
        username: &who.user.username,
        user_code,
        error,
        confirm: None,
    };
    html_with_cookie(StatusCode::OK, &p, set)
}
