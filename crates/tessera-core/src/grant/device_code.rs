//! Device code grant, token request: RFC 8628 §3.4–3.5. The device polls;
//! each poll is one atomic step in the store, so of any number of
//! concurrent polls after approval exactly one gets the tokens.

use tessera_proto::{ErrorCode, TokenResponse};

use crate::client::GrantType;
use crate::client_auth::AuthenticatedClient;
use crate::endpoint::device::DEVICE_CODE_PREFIX;
use crate::error::OAuthError;
use crate::grant::GrantParts;
use crate::grant::user_tokens::{self, Granted};
use crate::params::Params;
use crate::secret::Secret;
use crate::store::{DeviceApproval, DeviceStatus, Poll};

#[derive(Debug)]
pub struct Request {
    device_code: Secret,
}

impl Request {
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        Ok(Self { device_code: Secret::new(params.require("device_code")?) })
    }
}

pub async fn handle(
    p: &GrantParts<'_>,
    generation: u64,
    client: &AuthenticatedClient,
    req: Request,
) -> Result<TokenResponse, OAuthError> {
    let c = client.client();
    if !c.allows_grant(GrantType::DeviceCode) {
        return Err(OAuthError::unauthorized_client("this client may not use the device code grant"));
    }
    let invalid = || OAuthError::new(ErrorCode::InvalidGrant, "invalid device code");
    if !req.device_code.expose().starts_with(DEVICE_CODE_PREFIX) || req.device_code.expose().len() > 100 {
        return Err(invalid());
    }
    let now = p.clock.now();
    let grant_expires = user_tokens::grant_lifetime(c, now);
    let code = match p.store.poll_device(&req.device_code.digest(), &c.id, now, grant_expires).await? {
        Poll::Pending => {
            return Err(OAuthError::new(ErrorCode::AuthorizationPending, "the user has not approved the request yet"));
        }
        Poll::SlowDown(interval) => {
            return Err(OAuthError::new(ErrorCode::SlowDown, format!("poll at most every {interval} seconds")));
        }
        Poll::Denied => return Err(OAuthError::new(ErrorCode::AccessDenied, "the user denied the request")),
        Poll::Expired => return Err(OAuthError::new(ErrorCode::ExpiredToken, "the device code has expired")),
        Poll::Invalid => return Err(invalid()),
        Poll::Approved(code) => code,
    };
    let DeviceStatus::Approved(DeviceApproval { user_id, auth_time, amr }) = &code.status else {
        return Err(OAuthError::server_error("an approved device code without its approval"));
    };
    let user = match p.store.get_user(user_id).await? {
        Some(u) if !u.disabled => u,
        _ => {
            p.revocations.revoke_grant(&code.grant_id, &code.client_id).await?;
            return Err(OAuthError::new(ErrorCode::InvalidGrant, "the user is no longer active"));
        }
    };
    let granted = Granted {
        user: &user,
        grant_id: &code.grant_id,
        scope: code.scope.clone(),
        audience: code.audience.clone(),
        auth_time: *auth_time,
        amr,
        session_id: None,
        nonce: None,
        grant_expires,
    };
    user_tokens::issue(p, generation, c, granted).await
}
