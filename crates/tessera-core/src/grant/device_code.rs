//! Device code grant, token request: RFC 8628 §3.4–3.5. The device polls;
//! each poll is one atomic step in the store, so of any number of
//! concurrent polls after approval exactly one gets the tokens.

use tessera_proto::{ErrorCode, TokenResponse};

use crate::client::{Client, GrantType};
use crate::client_auth::AuthenticatedClient;
use crate::endpoint::device::DEVICE_CODE_PREFIX;
use crate::error::OAuthError;
use crate::grant::GrantParts;
use crate::grant::user_tokens::{self, Facts, Granted};
use crate::params::Params;
use crate::secret::Secret;
use crate::store::{DeviceApproval, DeviceCode, DeviceStatus, Poll, User};

#[derive(Debug)]
pub struct Request {
    device_code: Secret,
}

impl Request {
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        Ok(Self { device_code: Secret::new(params.require("device_code")?) })
    }
}

/// Proof that a device request may have its tokens (RFC 8628 §3.5): the
/// poll that redeemed it was made by the client it was issued to, a
/// signed-in person had approved it, and that person is still active. Only
/// this module makes one (its fields are private).
///
/// ```compile_fail
/// use tessera_core::client_auth::AuthenticatedClient;
/// use tessera_core::grant::device_code::ApprovedDevice;
/// use tessera_core::store::{DeviceApproval, DeviceCode, User};
///
/// fn forge(client: AuthenticatedClient, code: DeviceCode, approval: DeviceApproval, user: User) -> ApprovedDevice {
///     ApprovedDevice { client, code, approval, user, grant_expires: 0 }
/// }
/// ```
#[derive(Debug)]
pub struct ApprovedDevice {
    client: AuthenticatedClient,
    code: DeviceCode,
    approval: DeviceApproval,
    user: User,
    grant_expires: i64,
}

impl ApprovedDevice {
    /// The client that polled, which is the client the request was made by.
    pub fn client(&self) -> &Client {
        self.client.client()
    }
    pub fn code(&self) -> &DeviceCode {
        &self.code
    }
    /// Who approved it, and how they had signed in.
    pub fn approval(&self) -> &DeviceApproval {
        &self.approval
    }
    /// The approving user, enabled when the tokens were issued.
    pub fn user(&self) -> &User {
        &self.user
    }
    /// When the grant the poll stored expires.
    pub fn grant_expires(&self) -> i64 {
        self.grant_expires
    }
}

impl Granted for ApprovedDevice {
    fn facts(&self) -> Facts<'_> {
        Facts {
            client: self.client.client(),
            user: &self.user,
            grant_id: &self.code.grant_id,
            scope: &self.code.scope,
            audience: &self.code.audience,
            auth_time: self.approval.auth_time,
            amr: &self.approval.amr,
            session_id: None,
            nonce: None,
            grant_expires: self.grant_expires,
        }
    }
}

pub async fn handle(
    p: &GrantParts<'_>,
    generation: u64,
    client: &AuthenticatedClient,
    req: Request,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let approved = poll(p, client, req).await?;
    user_tokens::issue(p, generation, &approved, jkt).await
}

/// One poll; the only maker of [`ApprovedDevice`].
async fn poll(p: &GrantParts<'_>, client: &AuthenticatedClient, req: Request) -> Result<ApprovedDevice, OAuthError> {
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
        // The store answers only the client's own requests; checked again, as the proof says so.
        Poll::Approved(code) if code.client_id != c.id => return Err(invalid()),
        Poll::Approved(code) => *code,
    };
    let DeviceStatus::Approved(approval) = &code.status else {
        return Err(OAuthError::server_error("an approved device code without its approval"));
    };
    let approval = approval.clone();
    let user = match p.store.get_user(&approval.user_id).await? {
        Some(u) if !u.disabled => u,
        _ => {
            p.revocations.revoke_grant(&code.grant_id, &code.client_id).await?;
            return Err(OAuthError::new(ErrorCode::InvalidGrant, "the user is no longer active"));
        }
    };
    Ok(ApprovedDevice { client: client.clone(), code, approval, user, grant_expires })
}
