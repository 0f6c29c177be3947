//! What a browser sees: the authorization endpoint (RFC 6749 §4.1.1), the
//! sign-in and consent forms it leads to, and sign-out (OpenID Connect
//! RP-Initiated Logout 1.0). Thin: every decision is in
//! [`tessera_core::endpoint::authorize`] and [`tessera_core::endpoint::session`].
//!
//! The authorization request travels through the forms as one hidden field
//! and is checked again on every step, so nothing on the page is trusted.
//! Every form carries a CSRF token bound to a per-browser cookie.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use tessera_core::OAuthError;
use tessera_core::endpoint::authorize::{
    AuthorizationRequest, AuthorizeError, Interaction, SignedIn, Step, error_redirect_url, new_request_start,
    with_query,
};
use tessera_core::endpoint::session::LoginError;
use tessera_core::params::Params;
use tessera_proto::ErrorCode;

use super::AppState;
use super::client_addr::ClientAddr;
use super::pages::{self, ConsentPage, LoginPage, LogoutForm, MessagePage, cookie, error_page, html, see_other};

/// `GET /oauth2/authorize`.
pub async fn authorize_get(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let raw = uri.query().unwrap_or("").to_string();
    authorize(&s, &headers, raw.as_bytes()).await
}

/// `POST /oauth2/authorize` (OpenID Connect Core §3.1.2.1: form-encoded).
pub async fn authorize_post(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match body {
        Ok(b) => authorize(&s, &headers, &b).await,
        Err(r) => body_error(&s, r),
    }
}

/// A form body, or why it could not be read (too large, cut off).
pub(super) type Body = Result<Bytes, BytesRejection>;

pub(super) fn body_error(s: &AppState, r: BytesRejection) -> Response {
    let e = if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        OAuthError::new(ErrorCode::RequestTooLarge, "the form is larger than 64 KiB")
    } else {
        OAuthError::invalid_request("the form could not be read")
    };
    error_page(issuer(s), &e)
}

async fn authorize(s: &AppState, headers: &HeaderMap, raw: &[u8]) -> Response {
    let req = match s.authority.parse_authorization(raw).await {
        Ok(r) => r,
        Err(e) => return authorize_error(s, e),
    };
    let signed_in = match session(s, headers).await {
        Ok(x) => x,
        Err(e) => return error_page(issuer(s), &e),
    };
    let started_at = new_request_start(s.authority.now());
    let ix = Interaction { started_at: Some(started_at), consent: None };
    let step = s.authority.authorize(req, signed_in, ix).await;
    render_step(s, headers, step, started_at, None, None)
}

/// `POST /login`: the sign-in form, standalone or inside an authorization.
/// Inside one, the form's token carries when the request arrived, so the
/// steps after it know the person signed in for this request.
pub async fn login(State(s): State<AppState>, headers: HeaderMap, ext: Extensions, body: Body) -> Response {
    let form = match read_form(&s, body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (req, started_at) = match form.get("request") {
        Some(raw) => {
            let binding = cookie(&headers, s.cookies.csrf);
            let Some(started_at) = s.authority.csrf().verify_flow("login", binding, form.get("csrf"), raw, None) else {
                return csrf_failed(&s);
            };
            match s.authority.parse_authorization(raw.as_bytes()).await {
                Ok(r) => (Some(r), started_at),
                Err(e) => return authorize_error(&s, e),
            }
        }
        None if csrf_ok(&s, &headers, "login", &form) => (None, s.authority.now()),
        None => return csrf_failed(&s),
    };
    let flow = req.as_ref().map(|r| (r, started_at));
    let return_to = form.get("return_to").filter(|r| is_local_return(r));
    let username = form.get("username").unwrap_or("");
    let password = form.get("password").unwrap_or("");
    let ip = ClientAddr::of(&ext).map(|ip| ip.to_string()).unwrap_or_default();
    let (secret, signed_in) = match s.authority.login(username, password, &ip).await {
        Ok(ok) => ok,
        Err(LoginError::Unavailable(cause)) => {
            let e = OAuthError::new(ErrorCode::TemporarilyUnavailable, "sign-in is temporarily unavailable");
            return error_page(issuer(&s), &e.with_source(cause));
        }
        Err(LoginError::Internal(cause)) => return error_page(issuer(&s), &OAuthError::internal(cause)),
        Err(err) => {
            let (status, msg) = match err {
                LoginError::Throttled(secs) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("Too many failed sign-in attempts. Try again in {secs} seconds."),
                ),
                _ => (StatusCode::OK, "Invalid username or password.".to_string()),
            };
            return login_page_to(&s, &headers, flow, return_to, username, Some(msg), status);
        }
    };
    // A new session every time: a session fixed before sign-in is never promoted.
    if let Some(old) = cookie(&headers, s.cookies.session) {
        let _ = s.authority.end_session(old).await;
    }
    let set = s.cookies.set(s.cookies.session, secret.expose(), s.authority.settings().session_ttl);
    let Some(req) = req else {
        let mut r = match return_to {
            Some(to) => see_other(to),
            None => signed_in_page(&s, &headers, &signed_in.user.username),
        };
        add_cookie(&mut r, &set);
        return r;
    };
    // The password was checked just now, on a form made for this request:
    // this session was authenticated for it.
    let started_at = signed_in.session.auth_time;
    let ix = Interaction { started_at: Some(started_at), consent: None };
    let step = s.authority.authorize(req, Some(signed_in), ix).await;
    render_step(&s, &headers, step, started_at, Some(set), None)
}

/// `GET /login`: sign in without an application asking.
pub async fn login_get(State(s): State<AppState>, headers: HeaderMap) -> Response {
    match session(&s, &headers).await {
        Ok(Some(si)) => signed_in_page(&s, &headers, &si.user.username),
        Ok(None) => login_page_to(&s, &headers, None, None, "", None, StatusCode::OK),
        Err(e) => error_page(issuer(&s), &e),
    }
}

/// `POST /consent`: allow or deny. The form is valid only for the request
/// and the session it was shown to; it is not a sign-in.
pub async fn consent(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let form = match read_form(&s, body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let raw = form.get("request").unwrap_or("");
    let signed_in = match session(&s, &headers).await {
        Ok(x) => x,
        Err(e) => return error_page(issuer(&s), &e),
    };
    let Some(signed_in) = signed_in else {
        // The session ended while the page was open: sign in again.
        return match s.authority.parse_authorization(raw.as_bytes()).await {
            Ok(req) => {
                let started_at = new_request_start(s.authority.now());
                login_page_to(&s, &headers, Some((&req, started_at)), None, "", None, StatusCode::OK)
            }
            Err(e) => authorize_error(&s, e),
        };
    };
    let binding = cookie(&headers, s.cookies.csrf);
    let session_id = Some(signed_in.session.id.as_str());
    let Some(started_at) = s.authority.csrf().verify_flow("consent", binding, form.get("csrf"), raw, session_id) else {
        return csrf_failed(&s);
    };
    let req = match s.authority.parse_authorization(raw.as_bytes()).await {
        Ok(r) => r,
        Err(e) => return authorize_error(&s, e),
    };
    let decision = match form.get("decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => return error_page(issuer(&s), &OAuthError::invalid_request("choose Allow or Deny")),
    };
    let ix = Interaction { started_at: Some(started_at), consent: Some(decision) };
    let step = s.authority.authorize(req, Some(signed_in), ix).await;
    render_step(&s, &headers, step, started_at, None, None)
}

/// `GET /oauth2/logout` (RP-Initiated Logout §2): asks before signing out.
pub async fn logout_get(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let raw = uri.query().unwrap_or("").to_string();
    logout(&s, &headers, raw.as_bytes()).await
}

/// `POST /oauth2/logout`: the relying party's form post, or our confirmation.
pub async fn logout_post(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match body {
        Ok(b) => logout(&s, &headers, &b).await,
        Err(r) => body_error(&s, r),
    }
}

async fn logout(s: &AppState, headers: &HeaderMap, raw: &[u8]) -> Response {
    let p = match Params::parse(raw) {
        Ok(p) => p,
        Err(e) => return error_page(issuer(s), &e),
    };
    let target = match s
        .authority
        .logout_target(p.get("client_id"), p.get("id_token_hint"), p.get("post_logout_redirect_uri"))
        .await
    {
        Ok(t) => t,
        Err(e) => return error_page(issuer(s), &e),
    };
    let back = |state: Option<&str>| {
        target.as_ref().map(|t| match state {
            Some(st) => with_query(t.as_str(), &[("state", st)]),
            None => t.as_str().to_string(),
        })
    };
    let confirmed = p.get("csrf").is_some();
    let current = cookie(headers, s.cookies.session);
    if confirmed {
        if !csrf_ok(s, headers, "logout", &p) {
            return csrf_failed(s);
        }
        if let Some(c) = current
            && let Err(e) = s.authority.end_session(c).await
        {
            return error_page(issuer(s), &e);
        }
        let mut r = match back(p.get("state")) {
            Some(url) => see_other(&url),
            None => message(s, "Signed out", "You are signed out."),
        };
        add_cookie(&mut r, &s.cookies.set(s.cookies.session, "", 0));
        return r;
    }
    let signed_in = match current {
        Some(c) => s.authority.session(c).await.ok().flatten(),
        None => None,
    };
    if signed_in.is_none() {
        return match back(p.get("state")) {
            Some(url) => see_other(&url),
            None => message(s, "Signed out", "You are signed out."),
        };
    }
    let (binding, set) = csrf_binding(s, headers);
    let mut fields = Vec::new();
    for k in ["client_id", "id_token_hint", "post_logout_redirect_uri", "state"] {
        if let Some(v) = p.get(k) {
            fields.push((k.to_string(), v.to_string()));
        }
    }
    let form = LogoutForm { csrf: s.authority.csrf().token("logout", &binding), fields };
    let page = MessagePage {
        issuer: issuer(s),
        title: "Sign out?",
        message: "You will be signed out of every application that uses this account on this browser.",
        error: false,
        code: None,
        logout: Some(form),
    };
    html_with_cookie(StatusCode::OK, &page, set)
}

pub(super) fn issuer(s: &AppState) -> &str {
    &s.authority.settings().issuer
}

pub(super) async fn session(s: &AppState, headers: &HeaderMap) -> Result<Option<SignedIn>, OAuthError> {
    match cookie(headers, s.cookies.session) {
        Some(c) => s.authority.session(c).await,
        None => Ok(None),
    }
}

fn authorize_error(s: &AppState, e: AuthorizeError) -> Response {
    match e {
        AuthorizeError::Page(e) => error_page(issuer(s), &e),
        AuthorizeError::Redirect(r, e) => {
            if let Some(cause) = e.detail() {
                tracing::warn!(error = %e.code, %cause, "authorization failed");
            }
            see_other(&error_redirect_url(&r, &e))
        }
    }
}

fn render_step(
    s: &AppState,
    headers: &HeaderMap,
    step: Result<Step, AuthorizeError>,
    started_at: i64,
    set_session: Option<String>,
    login_error: Option<String>,
) -> Response {
    let mut r = match step {
        Err(e) => authorize_error(s, e),
        Ok(Step::Done(redirect)) => see_other(&redirect.0),
        Ok(Step::Login(req)) => {
            let hint = req.login_hint.clone().unwrap_or_default();
            login_page_to(s, headers, Some((&req, started_at)), None, &hint, login_error, StatusCode::OK)
        }
        Ok(Step::Consent { request, user, scopes, session_id: user_session_id }) => {
            let (binding, set) = csrf_binding(s, headers);
            let host = url::Url::parse(request.redirect_uri.as_str())
                .ok()
                .map(|u| u.host_str().map(str::to_string).unwrap_or_else(|| u.scheme().to_string()))
                .unwrap_or_default();
            let page = ConsentPage {
                issuer: issuer(s),
                csrf: s.authority.csrf().flow_token(
                    "consent",
                    &binding,
                    started_at,
                    &request.raw,
                    Some(&user_session_id),
                ),
                request: &request.raw,
                client_name: &request.client.name,
                username: &user.username,
                scopes: &scopes,
                redirect_host: host,
            };
            html_with_cookie(StatusCode::OK, &page, set)
        }
    };
    if let Some(c) = set_session {
        add_cookie(&mut r, &c);
    }
    r
}

/// The sign-in page; `flow` is the authorization request it belongs to,
/// with when that request arrived; `return_to` is one of our pages to come
/// back to.
pub(super) fn login_page_to(
    s: &AppState,
    headers: &HeaderMap,
    flow: Option<(&AuthorizationRequest, i64)>,
    return_to: Option<&str>,
    username: &str,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let (binding, set) = csrf_binding(s, headers);
    let csrf = match flow {
        Some((req, started_at)) => s.authority.csrf().flow_token("login", &binding, started_at, &req.raw, None),
        None => s.authority.csrf().token("login", &binding),
    };
    let page = LoginPage {
        issuer: issuer(s),
        csrf,
        request: flow.map(|(r, _)| r.raw.as_str()),
        client_name: flow.map(|(r, _)| r.client.name.as_str()),
        username,
        error,
        return_to: return_to.filter(|r| is_local_return(r)),
    };
    html_with_cookie(status, &page, set)
}

/// Only our own device page may be returned to after signing in: never an
/// absolute URL, so the form cannot be made an open redirector.
pub(super) fn is_local_return(r: &str) -> bool {
    (r == "/device" || r.starts_with("/device?")) && !r.contains(['\\', '\r', '\n', '#'])
}

/// "You are signed in", with a sign-out button (the logout form, CSRF-bound).
fn signed_in_page(s: &AppState, headers: &HeaderMap, username: &str) -> Response {
    let (binding, set) = csrf_binding(s, headers);
    let text = format!("You are signed in as {username}.");
    let page = MessagePage {
        issuer: issuer(s),
        title: "Signed in",
        message: &text,
        error: false,
        code: None,
        logout: Some(LogoutForm { csrf: s.authority.csrf().token("logout", &binding), fields: Vec::new() }),
    };
    html_with_cookie(StatusCode::OK, &page, set)
}

pub(super) fn message(s: &AppState, title: &str, text: &str) -> Response {
    let page = MessagePage { issuer: issuer(s), title, message: text, error: false, code: None, logout: None };
    html(StatusCode::OK, &page)
}

/// The browser's CSRF binding value, and a `Set-Cookie` if it needs one.
pub(super) fn csrf_binding(s: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, s.cookies.csrf).filter(|v| v.len() >= 16 && v.len() <= 64) {
        Some(v) => (v.to_string(), None),
        None => {
            let v = tessera_core::csrf::CsrfKey::binding(s.authority.rng());
            let set = s.cookies.set(s.cookies.csrf, &v, 24 * 3600);
            (v, Some(set))
        }
    }
}

pub(super) fn csrf_ok(s: &AppState, headers: &HeaderMap, purpose: &str, form: &Params) -> bool {
    s.authority.csrf().verify(purpose, cookie(headers, s.cookies.csrf), form.get("csrf"))
}

/// A form POST of ours, readable and well-formed; otherwise the error page
/// to answer with (built once per bad request, so its size does not
/// matter). Its CSRF token is for the caller to check: what it is bound to
/// depends on the form.
#[allow(clippy::result_large_err)]
pub(super) fn read_form(s: &AppState, body: Body) -> Result<Params, Response> {
    let body = body.map_err(|r| body_error(s, r))?;
    Params::parse(&body).map_err(|e| error_page(issuer(s), &e))
}

pub(super) fn csrf_failed(s: &AppState) -> Response {
    let e = OAuthError::new(
        ErrorCode::InvalidRequest,
        "This form has expired or did not come from this site. Go back, reload the page and try again.",
    );
    let mut r = error_page(issuer(s), &e);
    *r.status_mut() = StatusCode::FORBIDDEN;
    r
}

/// A page, with the CSRF binding cookie when the browser had none yet.
pub(super) fn html_with_cookie(status: StatusCode, page: &impl askama::Template, set: Option<String>) -> Response {
    let mut r = html(status, page);
    if let Some(c) = set {
        add_cookie(&mut r, &c);
    }
    r
}

fn add_cookie(r: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// `GET /assets/tessera.css`.
pub async fn css() -> Response {
    let mut r = Response::new(axum::body::Body::from(pages::CSS));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}
