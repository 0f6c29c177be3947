//! Authorization code grant, token request: RFC 6749 §4.1.3 with PKCE
//! (RFC 7636 §4.5–4.6) required as OAuth 2.1 §4.1.3 does, and the ID token
//! of OpenID Connect Core §3.1.3.
//!
//! A code is single-use and bound to its client, redirect URI and PKCE
//! challenge. The store consumes it atomically; a second use is a replay
//! (RFC 6749 §4.1.2, RFC 9700 §4.5): `invalid_grant`, and every token
//! issued from it is revoked. Another client presenting a code gets
//! `invalid_grant` and changes nothing, so a stranger cannot burn it.

use tessera_proto::TokenResponse;

use crate::authority::Authority;
use crate::client::{GrantType, MAX_ACCESS_TOKEN_TTL};
use crate::client_auth::AuthenticatedClient;
use crate::error::OAuthError;
use crate::grant::refresh_token;
use crate::params::Params;
use crate::pkce;
use crate::scope::ScopeSet;
use crate::secret::{CODE_PREFIX, Secret};
use crate::store::{Redemption, RefreshToken, Revocation, RevokedToken};
use crate::token::id_token::{self, IdTokenClaims, UserClaims};
use tessera_proto::ErrorCode;

#[derive(Debug)]
pub struct Request {
    code: Secret,
    redirect_uri: String,
    code_verifier: String,
}

impl Request {
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        Ok(Self {
            code: Secret::new(params.require("code")?),
            redirect_uri: params.require("redirect_uri")?.to_string(),
            code_verifier: params
                .get("code_verifier")
                .ok_or_else(|| OAuthError::invalid_request("code_verifier is required (PKCE)"))?
                .to_string(),
        })
    }
}

fn invalid_grant(d: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, d)
}

pub async fn handle(
    authority: &Authority,
    generation: u64,
    client: &AuthenticatedClient,
    req: Request,
) -> Result<TokenResponse, OAuthError> {
    let c = client.client();
    if !c.allows_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::unauthorized_client("this client may not use the authorization code grant"));
    }
    if !req.code.expose().starts_with(CODE_PREFIX) || req.code.expose().len() > 100 {
        return Err(invalid_grant("invalid authorization code"));
    }
    let now = authority.now();
    // A client that may refresh keeps the grant for the family's whole life.
    let grant_expires = if c.allows_grant(GrantType::RefreshToken) {
        now + c.refresh_absolute_ttl()
    } else {
        now + c.settings.access_token_ttl as i64
    };
    let code = match authority.store().redeem_code(&req.code.digest(), &c.id, now, grant_expires).await? {
        Redemption::Redeemed(code) => code,
        Redemption::Replayed(code) => {
            if code.client_id == c.id {
                tracing::warn!(client = %c.id, grant = %code.grant_id, "authorization code replayed: revoking its tokens");
                authority.revoke_grant(&code.grant_id, &code.client_id).await?;
            }
            return Err(invalid_grant("invalid authorization code"));
        }
        Redemption::WrongClient | Redemption::Unknown => return Err(invalid_grant("invalid authorization code")),
    };
    // The code is spent from here on: any failure leaves it unusable.
    let fail = |d: &str| invalid_grant(d);
    if code.redirect_uri != req.redirect_uri {
        authority.revoke_grant(&code.grant_id, &code.client_id).await?;
        return Err(fail("redirect_uri does not match the authorization request"));
    }
    if !pkce::verify(&req.code_verifier, &code.code_challenge) {
        authority.revoke_grant(&code.grant_id, &code.client_id).await?;
        return Err(fail("code_verifier does not match the code_challenge"));
    }
    let user = match authority.store().get_user(&code.user_id).await? {
        Some(u) if !u.disabled => u,
        _ => {
            authority.revoke_grant(&code.grant_id, &code.client_id).await?;
            return Err(fail("the user is no longer active"));
        }
    };
    let scope = ScopeSet::parse(&code.scope)?;
    let issued = authority
        .issue_user_access_token(
            generation,
            c,
            &user.id,
            scope.clone(),
            code.audience.clone(),
            code.auth_time,
            &code.grant_id,
        )
        .await?;
    let mut response = issued.into_response();
    // RFC 6749 §6 and OpenID Connect §11: only with offline_access, only to clients that may refresh.
    if scope.contains("offline_access") && c.allows_grant(GrantType::RefreshToken) {
        let family = RefreshToken {
            digest: crate::secret::Digest([0; 32]),
            grant_id: code.grant_id.clone(),
            client_id: c.id.clone(),
            user_id: user.id.clone(),
            scope: scope.to_string(),
            audience: code.audience.clone(),
            auth_time: code.auth_time,
            issued_at: now,
            expires_at: grant_expires,
            family_expires_at: grant_expires,
        };
        let (secret, first) = refresh_token::successor_of(authority, c, &family, scope.to_string(), now);
        authority.store().insert_refresh(&first).await?;
        response.refresh_token = Some(secret.expose().to_string());
    }
    if scope.contains("openid") {
        let alg = c.id_token_alg();
        let keys = authority.keys_at(generation).await?;
        let key = keys
            .active_for(alg, now)
            .ok_or_else(|| OAuthError::server_error(format!("no active {} key for ID tokens", alg.as_str())))?;
        let claims = IdTokenClaims {
            iss: authority.settings().issuer.clone(),
            sub: user.id.clone(),
            aud: c.id.clone(),
            exp: now + (c.settings.access_token_ttl as i64).min(MAX_ACCESS_TOKEN_TTL as i64),
            iat: now,
            auth_time: code.auth_time,
            nonce: code.nonce.clone(),
            at_hash: Some(id_token::at_hash(alg, &response.access_token)),
            amr: code.amr.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            sid: Some(code.session_id.clone()),
            azp: Some(c.id.clone()),
            user: UserClaims::of(&user, &scope),
        };
        response.id_token = Some(id_token::encode(key, &claims).map_err(|e| OAuthError::server_error(e.to_string()))?);
    }
    Ok(response)
}

impl Authority {
    /// Revokes every token of a grant at once and forgets the grant; the
    /// entry stays in the revocation feed until any token could have expired.
    pub async fn revoke_grant(&self, grant_id: &str, client_id: &str) -> Result<(), OAuthError> {
        let now = self.now();
        let expires_at = now + MAX_ACCESS_TOKEN_TTL as i64;
        let token = RevokedToken::Grant(grant_id.to_string());
        let r = Revocation { token: token.clone(), client_id: client_id.to_string(), expires_at, revoked_at: now };
        self.store().revoke(&r).await?;
        self.revoked.insert(token, expires_at);
        Ok(())
    }
}
