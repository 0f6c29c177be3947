//! UserInfo endpoint, OpenID Connect Core §5.3: the claims the access
//! token's scopes allow, for the user it was issued to. The token comes in
//! the `Authorization: Bearer` header only (RFC 6750 §2.1; never the query
//! string or body), and errors are RFC 6750 §3.1 challenges.

use serde::Serialize;

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

/// A failed UserInfo request: `None` code means no token was sent at all,
/// which RFC 6750 §3.1 answers with a bare challenge.
#[derive(Debug, Clone)]
pub struct BearerError(pub Option<OAuthError>);

impl From<OAuthError> for BearerError {
    fn from(e: OAuthError) -> Self {
        Self(Some(e))
    }
}

/// `GET /oauth2/userinfo`; `store`: the user is read there.
pub async fn userinfo(
    reader: &TokenReader<'_>,
    store: &dyn Store,
    authorization: Option<&str>,
) -> Result<UserInfo, BearerError> {
    let Some(h) = authorization else { return Err(BearerError(None)) };
    let (scheme, token) = h.trim().split_once(' ').ok_or_else(|| invalid_token("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError(None));
    }
    let token = token.trim();
    let Lookup::Active(facts, _) = reader.lookup(token).await? else {
        return Err(invalid_token("the access token is invalid, expired or revoked").into());
    };
    let scope = ScopeSet::parse(&facts.scope)?;
    if !scope.contains("openid") {
        return Err(OAuthError::new(ErrorCode::InsufficientScope, "the access token lacks the openid scope").into());
    }
    // Machine tokens (client credentials) have no user behind them.
    let Some(_) = facts.grant_id else {
        return Err(invalid_token("the access token was not issued for a user").into());
    };
    let user = match store.get_user(&UserId::from(facts.subject.as_str())).await.map_err(OAuthError::from)? {
        Some(u) if !u.disabled => u,
        _ => return Err(invalid_token("the user is no longer active").into()),
    };
    Ok(UserInfo { sub: user.id.to_string(), claims: UserClaims::of(&user, &scope) })
}

fn invalid_token(d: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, d)
}
