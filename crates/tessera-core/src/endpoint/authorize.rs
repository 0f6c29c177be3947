//! The authorization endpoint, RFC 6749 §4.1.1 as OAuth 2.1 §4.1 tightens
//! it, with OpenID Connect Core §3.1.2 (`nonce`, `prompt`, `max_age`,
//! `login_hint`) and RFC 9207 (`iss` in every response).
//!
//! The checks run in the order RFC 6749 §4.1.2.1 demands: until the client
//! and its redirect URI are verified nothing may be sent to the redirect URI
//! (an open redirector otherwise), so those failures are [`AuthorizeError::Page`];
//! every later failure goes back to the client as
//! [`AuthorizeError::Redirect`] with `error`, `state` and `iss`.

pub use crate::scope::{BUILTIN_SCOPES, ScopeLine};
use std::sync::Arc;

use tessera_proto::ErrorCode;

use crate::client::{Client, GrantType, validate_resource_uri};
use crate::clock::Clock;
use crate::error::OAuthError;
use crate::issuer::TokenIssuer;
use crate::params::Params;
use crate::pkce::{self, CodeChallenge};
use crate::random::Random;
use crate::redirect_uri::{self, VerifiedRedirectUri};
use crate::registry::ClientRegistry;
use crate::scope::ScopeSet;
use crate::secret::{CODE_PREFIX, Secret};
use crate::store::{AuthCode, Consent, Session, Store, User};

/// How long a code lives (RFC 6749 §4.1.2 recommends at most ten minutes).
pub const CODE_TTL: i64 = 60;
const MAX_STATE: usize = 2048;
const MAX_NONCE: usize = 512;
/// The length of an unpadded base64url SHA-256 digest.
const JKT_LEN: usize = 43;

/// A request whose client and redirect URI are verified and whose every
/// parameter is well-formed.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The parameters as received, carried through the login and consent pages.
    pub raw: String,
    pub client: Arc<Client>,
    pub redirect_uri: VerifiedRedirectUri,
    pub state: Option<String>,
    pub scope: ScopeSet,
    pub audience: Vec<String>,
    pub response: ResponseType,
    pub nonce: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// RFC 9449 §10 `dpop_jkt`: the thumbprint of the DPoP key the code is
    /// bound to; its redemption must carry a proof of that key.
    pub dpop_jkt: Option<String>,
}

/// What the client asked to get back. Only a code carries a PKCE challenge,
/// and a code always does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseType {
    /// `code`: the authorization code flow, with its RFC 7636 S256 challenge.
    Code { code_challenge: CodeChallenge },
    /// `token`: the legacy implicit grant (RFC 6749 §4.2), only for clients
    /// registered with `--allow-implicit`; answers go in the fragment.
    Token,
}

/// OpenID Connect Core §3.1.2.1 `prompt`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// Where the browser goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect(pub String);

#[derive(Debug, Clone)]
pub enum AuthorizeError {
    /// Shown to the person; never redirected (unknown client, bad redirect URI).
    Page(OAuthError),
    /// Sent to the client's verified redirect URI.
    Redirect(Redirect, OAuthError),
}

/// A browser with a live session of an enabled user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: Session,
    pub user: User,
}

/// What the person did on our pages during this request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Interaction {
    /// From when a sign-in counts as made for this request (carried, signed,
    /// through the sign-in and consent forms); `None`: a request arriving
    /// now, for which only a later sign-in counts. A session authenticated
    /// at or after it satisfies `prompt=login` and `max_age`: the person
    /// signed in for this very request.
    pub started_at: Option<i64>,
    /// Their answer on the consent page.
    pub consent: Option<bool>,
}

#[derive(Debug, Clone)]
pub enum Step {
    Login(Box<AuthorizationRequest>),
    /// `session_id`: the session the consent form is bound to.
    Consent {
        request: Box<AuthorizationRequest>,
        user: Box<User>,
        scopes: Vec<ScopeLine>,
        session_id: String,
    },
    Done(Redirect),
}

/// The parts the authorization endpoint uses: the registry (the client,
/// scope sentences), the store (consent, codes, implicit grants), the token
/// issuer (audiences, `iss`, implicit tokens), the clock and randomness.
#[derive(Clone, Copy)]
pub struct Authorize<'a> {
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
    pub rng: &'a dyn Random,
    pub clients: &'a ClientRegistry,
    pub issuer: &'a TokenIssuer,
}

impl Authorize<'_> {
    /// Parses and checks an authorization request (GET query or POST form).
    pub async fn parse_authorization(&self, raw: &[u8]) -> Result<AuthorizationRequest, AuthorizeError> {
        let page = AuthorizeError::Page;
        let params = Params::parse(raw).map_err(page)?;
        let client_id = params.require("client_id").map_err(page)?;
        let client = self
            .clients
            .client(client_id)
            .await
            .map_err(page)?
            .ok_or_else(|| page(OAuthError::invalid_request("unknown client_id")))?;
        let requested = params.require("redirect_uri").map_err(page)?;
        let redirect_uri = redirect_uri::match_registered(&client.settings.redirect_uris, requested)
            .ok_or_else(|| page(OAuthError::invalid_request("redirect_uri is not registered for this client")))?;
        // From here on, errors go back to the client.
        let state = params.get("state").map(str::to_string);
        // RFC 6749 §4.2.2.1: an implicit request's errors go in the fragment.
        let fragment = params.get("response_type") == Some("token");
        let back =
            |e: OAuthError| AuthorizeError::Redirect(self.error_redirect(&redirect_uri, state.as_deref(), fragment), e);
        if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
            return Err(back(OAuthError::invalid_request("state is too long")));
        }
        let implicit = match params.get("response_type") {
            Some("code") => false,
            Some("token") if client.settings.allow_implicit => true,
            None => return Err(back(OAuthError::invalid_request("missing required parameter 'response_type'"))),
            Some(_) => {
                return Err(back(OAuthError::new(
                    ErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported for this client",
                )));
            }
        };
        if !client.allows_grant(GrantType::AuthorizationCode) {
            return Err(back(OAuthError::unauthorized_client("this client may not use the authorization code flow")));
        }
        if params.get("request").is_some() || params.get("request_uri").is_some() {
            return Err(back(OAuthError::invalid_request("request objects are not supported")));
        }
        if let Some(m) = params.get("response_mode")
            && m != "query"
        {
            return Err(back(OAuthError::invalid_request("only response_mode=query is supported")));
        }
        let response = if implicit {
            ResponseType::Token
        } else {
            let code_challenge =
                pkce::check_challenge(params.get("code_challenge"), params.get("code_challenge_method"))
                    .map_err(back)?;
            ResponseType::Code { code_challenge }
        };
        let allowed = client.scope();
        let scope = match params.get("scope") {
            None => allowed.clone(),
            Some(s) => ScopeSet::parse(s).map_err(back)?,
        };
        if !scope.is_subset_of(allowed) {
            return Err(back(OAuthError::invalid_scope(format!(
                "scope not allowed for this client: {}",
                scope.not_in(allowed).join(" ")
            ))));
        }
        let resources: Vec<String> = params.get_all("resource").into_iter().map(String::from).collect();
        for r in &resources {
            validate_resource_uri(r).map_err(back)?;
        }
        let audience = self.issuer.audience_for(&client, &resources).map_err(back)?;
        let nonce = params.get("nonce").map(str::to_string);
        if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE) {
            return Err(back(OAuthError::invalid_request("nonce is too long")));
        }
        let prompt = parse_prompt(params.get("prompt")).map_err(back)?;
        let max_age = match params.get("max_age") {
            None => None,
            Some(v) => Some(
                v.parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| back(OAuthError::invalid_request("max_age must be a non-negative integer")))?,
            ),
        };
        let login_hint = params.get("login_hint").filter(|h| h.len() <= 256).map(str::to_string);
        let dpop_jkt = params.get("dpop_jkt").map(parse_jkt).transpose().map_err(back)?;
        Ok(AuthorizationRequest {
            raw: params.encode(),
            client,
            redirect_uri,
            state,
            scope,
            audience,
            response,
            nonce,
            prompt,
            max_age,
            login_hint,
            dpop_jkt,
        })
    }

    /// Decides the next step for a checked request: sign in, ask consent,
    /// or issue a code.
    pub async fn authorize(
        &self,
        req: AuthorizationRequest,
        signed_in: Option<SignedIn>,
        ix: Interaction,
    ) -> Result<Step, AuthorizeError> {
        let now = self.clock.now();
        let to =
            self.error_redirect(&req.redirect_uri, req.state.as_deref(), matches!(req.response, ResponseType::Token));
        let back = |e: OAuthError| AuthorizeError::Redirect(to.clone(), e);
        // Freshness comes from the session's own auth_time, never from
        // which form was posted (OpenID Connect Core §3.1.2.1 `prompt`, `max_age`).
        let started_at = ix.started_at.unwrap_or_else(|| new_request_start(now));
        let signed_in_for_this = |s: &SignedIn| s.session.auth_time >= started_at;
        let stale = |s: &SignedIn| req.max_age.is_some_and(|m| now.saturating_sub(s.session.auth_time) > m);
        let must_login = match &signed_in {
            None => true,
            Some(s) => !signed_in_for_this(s) && (req.prompt.login || stale(s)),
        };
        let Some(signed_in) = signed_in.filter(|_| !must_login) else {
            if req.prompt.none {
                return Err(back(OAuthError::new(ErrorCode::LoginRequired, "the user is not signed in")));
            }
            return Ok(Step::Login(Box::new(req)));
        };
        if ix.consent == Some(false) {
            return Err(back(OAuthError::new(ErrorCode::AccessDenied, "the user denied the request")));
        }
        let user_id = signed_in.user.id.clone();
        let remembered = self.store.get_consent(&user_id, &req.client.id).await.map_err(|e| back(e.into()))?;
        let covered = remembered.as_ref().is_some_and(|c| req.scope.is_subset_of(&c.scope));
        if ix.consent != Some(true) && (!covered || req.prompt.consent) {
            if req.prompt.none {
                return Err(back(OAuthError::new(ErrorCode::ConsentRequired, "the user has not consented")));
            }
            let scopes = self.clients.describe_scopes(&req.scope).await.map_err(back)?;
            let session_id = signed_in.session.id.clone();
            return Ok(Step::Consent { request: Box::new(req), user: Box::new(signed_in.user), scopes, session_id });
        }
        if ix.consent == Some(true) {
            // Remember the union, so a later request for fewer scopes is not
            // asked again; within what the client may ask for, so it stays bounded.
            let had = remembered.map_or_else(ScopeSet::default, |c| c.scope);
            let all = had.union_within(&req.scope, req.client.scope());
            let c = Consent { user_id: user_id.clone(), client_id: req.client.id.clone(), scope: all, granted_at: now };
            self.store.put_consent(&c).await.map_err(|e| back(e.into()))?;
        }
        let done = match &req.response {
            ResponseType::Code { code_challenge } => self.issue_code(&req, code_challenge, &signed_in).await,
            ResponseType::Token => self.issue_implicit(&req, &signed_in).await,
        };
        done.map(Step::Done).map_err(back)
    }

    async fn issue_code(
        &self,
        req: &AuthorizationRequest,
        code_challenge: &CodeChallenge,
        s: &SignedIn,
    ) -> Result<Redirect, OAuthError> {
        let now = self.clock.now();
        let code = Secret::generate(self.rng, CODE_PREFIX);
        let mut gid = [0u8; 16];
        self.rng.fill(&mut gid);
        self.store
            .insert_code(&AuthCode {
                digest: code.digest(),
                client_id: req.client.id.clone(),
                user_id: s.user.id.clone(),
                grant_id: hex::encode(gid),
                redirect_uri: req.redirect_uri.as_str().to_string(),
                code_challenge: code_challenge.clone(),
                scope: req.scope.clone(),
                audience: req.audience.clone(),
                nonce: req.nonce.clone(),
                auth_time: s.session.auth_time,
                amr: s.session.amr.clone(),
                session_id: s.session.id.clone(),
                created_at: now,
                expires_at: now + CODE_TTL,
                dpop_jkt: req.dpop_jkt.clone(),
            })
            .await?;
        let mut pairs = vec![("code", code.expose())];
        if let Some(st) = &req.state {
            pairs.push(("state", st));
        }
        pairs.push(("iss", self.issuer.issuer()));
        Ok(Redirect(with_query(req.redirect_uri.as_str(), &pairs)))
    }

    /// The redirect for an error; the error itself is appended by
    /// [`Self::error_redirect_url`] once it is known.
    fn error_redirect(&self, uri: &VerifiedRedirectUri, state: Option<&str>, fragment: bool) -> Redirect {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = state {
            pairs.push(("state", s));
        }
        pairs.push(("iss", self.issuer.issuer()));
        if fragment {
            return Redirect(with_fragment(uri.as_str(), &pairs));
        }
        Redirect(with_query(uri.as_str(), &pairs))
    }
}

/// The final URL of an error redirect: RFC 6749 §4.1.2.1 `error` and
/// `error_description` added to the redirect built by the endpoint.
pub fn error_redirect_url(r: &Redirect, e: &OAuthError) -> String {
    let pairs = [("error", e.code.as_str()), ("error_description", e.description.as_str())];
    if r.0.contains('#') {
        // A fragment response (implicit): the error joins the fragment.
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            ser.append_pair(k, v);
        }
        return format!("{}&{}", r.0, ser.finish());
    }
    with_query(&r.0, &pairs)
}

/// `uri#k=v&…` (RFC 6749 §4.2.2): registered URIs never carry a fragment.
pub fn with_fragment(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    format!("{uri}#{}", ser.finish())
}

/// Appends parameters to a URI that may already have a query (§3.1.2).
pub fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    let extra = ser.finish();
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{extra}")
}

/// For a request arriving at `now`, only a sign-in after it counts as made
/// for it; the clock counts whole seconds, so "after" begins at the next.
pub fn new_request_start(now: i64) -> i64 {
    now.saturating_add(1)
}

/// An RFC 7638 SHA-256 thumbprint: 32 bytes in unpadded base64url, 43 characters.
fn parse_jkt(v: &str) -> Result<String, OAuthError> {
    let b64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if v.len() != JKT_LEN || !v.bytes().all(b64url) {
        return Err(OAuthError::invalid_request("dpop_jkt must be a base64url SHA-256 JWK thumbprint"));
    }
    Ok(v.to_string())
}

fn parse_prompt(p: Option<&str>) -> Result<Prompt, OAuthError> {
    let mut out = Prompt::default();
    let Some(p) = p else { return Ok(out) };
    for v in p.split(' ').filter(|v| !v.is_empty()) {
        match v {
            "none" => out.none = true,
            "login" | "select_account" => out.login = true,
            "consent" => out.consent = true,
            other => {
                let shown = crate::params::printable(other);
                return Err(OAuthError::invalid_request(format!("unsupported prompt value \"{shown}\"")));
            }
        }
    }
    if out.none && (out.login || out.consent) {
        return Err(OAuthError::invalid_request("prompt=none cannot be combined with other values"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_values() {
        assert_eq!(parse_prompt(None), Ok(Prompt::default()));
        assert_eq!(parse_prompt(Some("login consent")), Ok(Prompt { none: false, login: true, consent: true }));
        assert!(parse_prompt(Some("none login")).is_err());
        assert!(parse_prompt(Some("bogus")).is_err());
        // An unknown value is echoed cut short and without control characters.
        let long = format!("\u{1b}[2J{}", "x".repeat(5000));
        let e = parse_prompt(Some(&long)).map(|_| ()).unwrap_err();
        assert!(e.description.len() < 100 && !e.description.contains('\u{1b}'), "{}", e.description);
    }

    #[test]
    fn dpop_jkt_format() {
        let good = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
        assert_eq!(parse_jkt(good), Ok(good.to_string()));
        for bad in [
            "",
            &good[1..],
            &format!("{good}A"),
            "0ZcOCORZNYy+DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
            &format!("{}=", &good[1..]),
        ] {
            assert!(parse_jkt(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn query_appending() {
        assert_eq!(with_query("https://a/cb", &[("code", "x y")]), "https://a/cb?code=x+y");
        assert_eq!(with_query("https://a/cb?k=1", &[("state", "s&t")]), "https://a/cb?k=1&state=s%26t");
    }
}
