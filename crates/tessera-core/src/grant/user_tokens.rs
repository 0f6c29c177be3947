//! The token response for a person's grant, shared by the authorization
//! code and device code grants: an access token carrying the grant id; a
//! refresh token when `offline_access` was granted and the client may
//! refresh (RFC 6749 §6, OpenID Connect Core §11); an ID token when `openid`
//! was (OpenID Connect Core §3.1.3.3, with `at_hash`).

use tessera_proto::TokenResponse;

use crate::amr::AmrSet;
use crate::client::{Client, GrantType, MAX_ACCESS_TOKEN_TTL};
use crate::error::OAuthError;
use crate::grant::GrantParts;
use crate::grant::refresh_token;
use crate::issuer::{AccessRequest, UserGrant};
use crate::scope::ScopeSet;
use crate::store::{RefreshToken, User};
use crate::token::id_token::{self, IdTokenClaims, UserClaims};

/// A person's grant whose checks were done, at the moment tokens are
/// issued for it. Implemented by the proofs
/// [`RedeemedCode`](super::authorization_code::RedeemedCode) and
/// [`ApprovedDevice`](super::device_code::ApprovedDevice), which only their
/// grant can make, so issuance never runs on loose fields. Declared here,
/// below both grants, so this file depends on neither.
pub(crate) trait Granted: Sync {
    fn facts(&self) -> Facts<'_>;
}

/// What issuance reads of a [`Granted`].
pub(crate) struct Facts<'a> {
    pub client: &'a Client,
    pub user: &'a User,
    pub grant_id: &'a str,
    pub scope: &'a ScopeSet,
    pub audience: &'a [String],
    pub auth_time: i64,
    pub amr: &'a AmrSet,
    pub session_id: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub grant_expires: i64,
}

/// How long a new grant lives: a client that may refresh keeps it for the
/// refresh family's whole life, any other as long as its access token.
pub(crate) fn grant_lifetime(c: &Client, now: i64) -> i64 {
    if c.allows_grant(GrantType::RefreshToken) {
        now + c.refresh_absolute_ttl()
    } else {
        now + c.settings.access_token_ttl as i64
    }
}

pub(crate) async fn issue(
    p: &GrantParts<'_>,
    generation: u64,
    granted: &impl Granted,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let g = granted.facts();
    let c = g.client;
    let now = p.clock.now();
    let user = UserGrant { auth_time: g.auth_time, grant_id: g.grant_id.to_string() };
    let req = AccessRequest::for_user(c, &g.user.id, g.scope.clone(), g.audience.to_vec(), user).bound_to(jkt);
    let issued = p.issuer.issue(generation, c, req).await?;
    let mut response = issued.into_response();
    if g.scope.contains("offline_access") && c.allows_grant(GrantType::RefreshToken) {
        let family = RefreshToken {
            digest: crate::secret::Digest([0; 32]),
            grant_id: g.grant_id.to_string(),
            client_id: c.id.clone(),
            user_id: g.user.id.clone(),
            scope: g.scope.clone(),
            audience: g.audience.to_vec(),
            auth_time: g.auth_time,
            issued_at: now,
            expires_at: g.grant_expires,
            family_expires_at: g.grant_expires,
            // RFC 9449 §5: a public client's refresh tokens are bound to the
            // key of the proof they were issued with; a confidential client's
            // are not (its authentication binds them).
            jkt: if c.is_public() { jkt.map(str::to_string) } else { None },
        };
        let (secret, first) =
            refresh_token::successor_of(p.rng, p.clock.now_millis(), c, &family, g.scope.clone(), now);
        // The grant was revoked since it was stored (a replay of its code on
        // another node, the user disabled): the token is not stored, so it
        // cannot outlive the revocation. This request still won the code;
        // the answer is the one it would get had the revocation come a
        // moment later: tokens that are already refused.
        if !p.store.insert_refresh(&first).await? {
            tracing::warn!(grant = g.grant_id, "grant revoked while its tokens were issued; refresh token not stored");
        }
        response.refresh_token = Some(secret.expose().to_string());
    }
    if g.scope.contains("openid") {
        let alg = c.id_token_alg();
        let keys = p.issuer.keys_at(generation).await?;
        let key = keys
            .active_for(alg, now)
            .ok_or_else(|| OAuthError::server_error(format!("no active {} key for ID tokens", alg.as_str())))?;
        let claims = IdTokenClaims {
            iss: p.issuer.issuer().to_string(),
            sub: g.user.id.to_string(),
            aud: c.id.to_string(),
            exp: now + (c.settings.access_token_ttl as i64).min(MAX_ACCESS_TOKEN_TTL as i64),
            iat: now,
            auth_time: g.auth_time,
            nonce: g.nonce.map(str::to_string),
            at_hash: Some(id_token::at_hash(alg, &response.access_token)),
            amr: g.amr.names(),
            sid: g.session_id.map(str::to_string),
            azp: Some(c.id.to_string()),
            user: UserClaims::of(g.user, g.scope),
        };
        response.id_token = Some(id_token::encode(key, &claims).map_err(|e| OAuthError::server_error(e.to_string()))?);
    }
    Ok(response)
}
