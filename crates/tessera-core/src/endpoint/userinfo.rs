//! UserInfo endpoint, OpenID Connect Core §5.3: the claims the access
//! token's scopes allow, for the user it was issued to. The token comes in
//! the `Authorization` header only (never the query string or body): a
//! bearer token as `Bearer` (RFC 6750 §2.1), a DPoP-bound one as `DPoP`
//! with a proof of its key (RFC 9449 §7), never the other way round. Errors
//! are RFC 6750 §3.1 / RFC 9449 §7.1 challenges.

use serde::Serialize;

use crate::dpop::TokenDpop;
use crate::endpoint::introspect::{Lookup, TokenReader};
use crate::error::OAuthError;
use crate::ids::UserId;
use crate::scope::ScopeSet;
use crate::store::Store;
use crate::token::id_token::UserClaims;
use tessera_proto::ErrorCode;

#[derive(Debug, Clone, Serialize)]
pub struct UserInfo {
    pub sub: String,
    #[serde(flatten)]
    pub claims: UserClaims,
}

/// The authentication scheme of a request or of its challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

/// A failed UserInfo request: `error` None means no token was sent at all,
/// which RFC 6750 §3.1 answers with a bare challenge; `scheme` is the one
/// the challenge names the error under.
#[derive(Debug, Clone)]
pub struct BearerError {
    pub error: Option<OAuthError>,
    pub scheme: Scheme,
}

impl BearerError {
    /// No (usable) token: the bare challenge.
    pub fn bare() -> Self {
        Self { error: None, scheme: Scheme::Bearer }
    }
}

impl From<OAuthError> for BearerError {
    fn from(e: OAuthError) -> Self {
        Self { error: Some(e), scheme: Scheme::Bearer }
    }
}

/// What a UserInfo request presents: its `Authorization` header, its method
/// and every `DPoP` header value.
#[derive(Debug, Clone, Copy)]
pub struct Presentation<'a, V> {
    pub authorization: Option<&'a str>,
    pub method: &'a str,
    pub proofs: &'a [V],
}

/// `GET/POST /oauth2/userinfo`; `store`: the user is read there; `dpop`:
/// the proof checks for a bound token; `now`: Unix seconds.
pub async fn userinfo<V: AsRef<[u8]>>(
    reader: &TokenReader<'_>,
    store: &dyn Store,
    dpop: &TokenDpop,
    request: Presentation<'_, V>,
    now: i64,
) -> Result<UserInfo, BearerError> {
    let Some(h) = request.authorization else { return Err(BearerError::bare()) };
    let (scheme, token) = h.trim().split_once(' ').ok_or_else(|| invalid_token("malformed Authorization header"))?;
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return Err(BearerError::bare());
    };
    let refuse = |e: OAuthError| BearerError { error: Some(e), scheme };
    let token = token.trim();
    let Lookup::Active(facts, _) = reader.lookup(token).await.map_err(refuse)? else {
        return Err(refuse(invalid_token("the access token is invalid, expired or revoked")));
    };
    match (scheme, facts.jkt.as_deref()) {
        (Scheme::Bearer, None) => {}
        // A copied bound token is worth nothing without its key (§7.2).
        (Scheme::Bearer, Some(_)) => {
            let e = invalid_token("a DPoP-bound access token must be sent with the DPoP scheme and a proof");
            return Err(BearerError { error: Some(e), scheme: Scheme::Dpop });
        }
        (Scheme::Dpop, None) => {
            return Err(refuse(invalid_token("the access token is not DPoP-bound: send it with the Bearer scheme")));
        }
        (Scheme::Dpop, Some(jkt)) => {
            dpop.check_userinfo(request.proofs, request.method, token, jkt, now).await.map_err(refuse)?
        }
    }
    let scope = ScopeSet::parse(&facts.scope).map_err(refuse)?;
    if !scope.contains("openid") {
        return Err(refuse(OAuthError::new(ErrorCode::InsufficientScope, "the access token lacks the openid scope")));
    }
    // Machine tokens (client credentials) have no user behind them.
    let Some(_) = facts.grant_id else {
        return Err(refuse(invalid_token("the access token was not issued for a user")));
    };
    let user = match store.get_user(&UserId::from(facts.subject.as_str())).await.map_err(|e| refuse(e.into()))? {
        Some(u) if !u.disabled => u,
        _ => return Err(refuse(invalid_token("the user is no longer active"))),
    };
    Ok(UserInfo { sub: user.id.to_string(), claims: UserClaims::of(&user, &scope) })
}

fn invalid_token(d: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, d)
}
