//! Refresh token grant, RFC 6749 §6, with rotation and reuse detection
//! (RFC 9700 §4.14.2, OAuth 2.1 §4.3.1).
//!
//! Every use rotates the token: the answer carries a successor, and the
//! presented token is spent. Presenting a spent token again is treated by
//! when it happens:
//! - within the client's retry window (default 10 s) it is a retry (two tabs,
//!   or a response lost on the way) and gets the *same* successor pair back,
//!   kept sealed under the master key for that window only;
//! - after it, it is theft: the whole family (the grant) is revoked at once,
//!   every refresh token and every access token issued under it.
//!
//! A token presented by another client is refused and changes nothing, so a
//! stranger who finds one cannot log its owner out. So is a token bound to a
//! DPoP key (a public client's, RFC 9449 §5) presented without a proof of
//! that key: it stays unspent, and a retry needs the key too.

use tessera_proto::{ErrorCode, TokenResponse};

use crate::client::{Client, GrantType};
use crate::client_auth::AuthenticatedClient;
use crate::error::OAuthError;
use crate::grant::GrantParts;
use crate::issuer::{AccessRequest, UserGrant};
use crate::params::Params;
use crate::random::Random;
use crate::scope::ScopeSet;
use crate::secret::{Digest, REFRESH_PREFIX, Secret};
use crate::store::{RefreshState, RefreshToken, RevokedToken, Rotation};

#[derive(Debug)]
pub struct Request {
    token: Secret,
    scope: Option<ScopeSet>,
}

impl Request {
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        Ok(Self {
            token: Secret::new(params.require("refresh_token")?),
            scope: params.get("scope").map(ScopeSet::parse).transpose()?,
        })
    }
}

fn invalid_grant(d: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, d)
}

pub async fn handle(
    p: &GrantParts<'_>,
    generation: u64,
    client: &AuthenticatedClient,
    req: Request,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let c = client.client();
    if !c.allows_grant(GrantType::RefreshToken) {
        return Err(OAuthError::unauthorized_client("this client may not use refresh tokens"));
    }
    if !req.token.expose().starts_with(REFRESH_PREFIX) || req.token.expose().len() > 100 {
        return Err(invalid_grant("invalid refresh token"));
    }
    let digest = req.token.digest();
    let now = p.clock.now();
    let Some(state) = p.store.get_refresh(&digest).await? else {
        return Err(invalid_grant("invalid refresh token"));
    };
    if state.token.client_id != c.id {
        return Err(invalid_grant("invalid refresh token"));
    }
    // RFC 9449 §5: a bound token needs a proof of its key, checked before
    // anything is spent or revoked.
    if let Some(bound) = &state.token.jkt
        && jkt != Some(bound.as_str())
    {
        return Err(invalid_grant("the refresh token is bound to another DPoP key"));
    }
    // Its grant was revoked. The store keeps no token of a revoked grant
    // (tokens are stored only while their grant exists); this answers from
    // memory, and stays as a second line behind that rule.
    if p.revocations.contains(&RevokedToken::Grant(state.token.grant_id.clone())) {
        return Err(invalid_grant("invalid refresh token"));
    }
    if state.rotated_at.is_some() {
        return retry_or_reuse(p, &state, now).await;
    }
    if now >= state.token.expires_at {
        return Err(invalid_grant("the refresh token has expired"));
    }
    let granted = &state.token.scope;
    let scope = match req.scope {
        None => granted.clone(),
        Some(s) if s.is_subset_of(granted) => s,
        Some(s) => {
            return Err(OAuthError::invalid_scope(format!(
                "a refresh may narrow the scope, never widen it: {}",
                s.not_in(granted).join(" ")
            )));
        }
    };
    // A disabled or deleted user's grants are revoked with them, but a grant
    // made while that ran (a code redeemed on another node) is not: ask.
    if !state.user_active {
        return Err(invalid_grant("invalid refresh token"));
    }
    let old = &state.token;
    let user = UserGrant { auth_time: old.auth_time, grant_id: old.grant_id.clone() };
    let req = AccessRequest::for_user(c, &old.user_id, scope, old.audience.clone(), user).bound_to(jkt);
    let issued = p.issuer.issue(generation, c, req).await?;
    // RFC 6749 §6: a narrowed scope applies to this access token only; the
    // successor keeps the scope of the token presented.
    let (secret, successor) = successor_of(p.rng, p.clock.now_millis(), c, old, old.scope.clone(), now);
    let mut response = issued.into_response();
    response.refresh_token = Some(secret.expose().to_string());
    let plain = serde_json::to_vec(&response).map_err(|e| OAuthError::server_error(e.to_string()))?;
    let sealed = p.issuer.seal(&plain, &aad(&digest))?;
    match p.store.rotate_refresh(&digest, now, now + c.refresh_grace(), &sealed, &successor).await? {
        Rotation::Rotated => Ok(response),
        // A concurrent request won the race: answer as its retry.
        Rotation::AlreadyRotated(state) => retry_or_reuse(p, &state, now).await,
        Rotation::Gone => Err(invalid_grant("invalid refresh token")),
    }
}

/// A new refresh token of the family; its idle expiry never passes the family's end.
pub(crate) fn successor_of(
    rng: &dyn Random,
    now_millis: i64,
    c: &Client,
    family: &RefreshToken,
    scope: ScopeSet,
    now: i64,
) -> (Secret, RefreshToken) {
    let secret = Secret::generate_with_id(rng, now_millis, REFRESH_PREFIX);
    let token = RefreshToken {
        digest: secret.digest(),
        grant_id: family.grant_id.clone(),
        client_id: family.client_id.clone(),
        user_id: family.user_id.clone(),
        scope,
        audience: family.audience.clone(),
        auth_time: family.auth_time,
        issued_at: now,
        expires_at: (now + c.refresh_idle_ttl()).min(family.family_expires_at),
        family_expires_at: family.family_expires_at,
        jkt: family.jkt.clone(),
    };
    (secret, token)
}

/// A spent token again: the same successor within the retry window, else
/// the family is revoked.
async fn retry_or_reuse(p: &GrantParts<'_>, state: &RefreshState, now: i64) -> Result<TokenResponse, OAuthError> {
    if now < state.grace_until
        && let Some(sealed) = &state.successor
    {
        let plain = p.issuer.open(sealed, &aad(&state.token.digest))?;
        let mut response: TokenResponse =
            serde_json::from_slice(&plain).map_err(|e| OAuthError::server_error(e.to_string()))?;
        let elapsed = now.saturating_sub(state.rotated_at.unwrap_or(now)).max(0) as u64;
        response.expires_in = response.expires_in.saturating_sub(elapsed);
        return Ok(response);
    }
    tracing::warn!(
        client = %state.token.client_id,
        grant = %state.token.grant_id,
        "a rotated refresh token was presented again: revoking its whole family"
    );
    p.revocations.revoke_grant(&state.token.grant_id, &state.token.client_id).await?;
    Err(invalid_grant("invalid refresh token"))
}

/// Binds a sealed successor to the token it answers for.
fn aad(old: &Digest) -> String {
    format!("refresh-successor:{}", old.to_hex())
}
