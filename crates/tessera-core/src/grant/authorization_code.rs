//! Authorization code grant, token request: RFC 6749 §4.1.3 with PKCE
//! (RFC 7636 §4.5–4.6) required as OAuth 2.1 §4.1.3 does, and the ID token
//! of OpenID Connect Core §3.1.3.
//!
//! A code is single-use and bound to its client, redirect URI and PKCE
//! challenge. The store consumes it atomically; a second use is a replay
//! (RFC 6749 §4.1.2, RFC 9700 §4.5): `invalid_grant`, and every token
//! issued from it is revoked. Another client presenting a code gets
//! `invalid_grant` and changes nothing, so a stranger cannot burn it; nor
//! can a stranger replaying a public client's spent code without its PKCE
//! verifier. A code asked for with `dpop_jkt` (RFC 9449 §10) is redeemed
//! only with a DPoP proof of that key.

use tessera_proto::TokenResponse;

use crate::client::{Client, GrantType};
use crate::client_auth::AuthenticatedClient;
use crate::error::OAuthError;
use crate::grant::GrantParts;
use crate::grant::user_tokens::{self, Facts, Granted};
use crate::params::Params;
use crate::secret::{CODE_PREFIX, Secret};
use crate::store::{AuthCode, Redemption, User};
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

/// Proof that an authorization code was redeemed by the rules of RFC 6749
/// §4.1.3 and RFC 7636 §4.6: consumed in the store (single use) by the
/// client it was issued to, its `redirect_uri` and PKCE verifier matched,
/// and its user still active. Only this module makes one (its fields are
/// private), so tokens for a code that skipped a check do not compile, as
/// with [`AuthenticatedClient`] for the client.
///
/// ```compile_fail
/// use tessera_core::client_auth::AuthenticatedClient;
/// use tessera_core::grant::authorization_code::RedeemedCode;
/// use tessera_core::store::{AuthCode, User};
///
/// // Its fields are private: a code nobody checked cannot be made into one.
/// fn forge(client: AuthenticatedClient, code: AuthCode, user: User) -> RedeemedCode {
///     RedeemedCode { client, code, user, grant_expires: 0 }
/// }
/// ```
#[derive(Debug)]
pub struct RedeemedCode {
    client: AuthenticatedClient,
    code: AuthCode,
    user: User,
    grant_expires: i64,
}

impl RedeemedCode {
    /// The client that redeemed it, which is the client it was issued to.
    pub fn client(&self) -> &Client {
        self.client.client()
    }
    pub fn code(&self) -> &AuthCode {
        &self.code
    }
    /// The code's user, enabled when it was redeemed.
    pub fn user(&self) -> &User {
        &self.user
    }
    /// When the grant the redemption stored expires.
    pub fn grant_expires(&self) -> i64 {
        self.grant_expires
    }
}

pub async fn handle(
    p: &GrantParts<'_>,
    generation: u64,
    client: &AuthenticatedClient,
    req: Request,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let redeemed = redeem(p, client, req, jkt).await?;
    user_tokens::issue(p, generation, &redeemed, jkt).await
}

impl Granted for RedeemedCode {
    fn facts(&self) -> Facts<'_> {
        let code = &self.code;
        Facts {
            client: self.client.client(),
            user: &self.user,
            grant_id: &code.grant_id,
            scope: &code.scope,
            audience: &code.audience,
            auth_time: code.auth_time,
            amr: &code.amr,
            session_id: Some(&code.session_id),
            nonce: code.nonce.as_deref(),
            grant_expires: self.grant_expires,
        }
    }
}

/// Consumes the code and checks it; the only maker of [`RedeemedCode`].
async fn redeem(
    p: &GrantParts<'_>,
    client: &AuthenticatedClient,
    req: Request,
    jkt: Option<&str>,
) -> Result<RedeemedCode, OAuthError> {
    let c = client.client();
    if !c.allows_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::unauthorized_client("this client may not use the authorization code grant"));
    }
    if !req.code.expose().starts_with(CODE_PREFIX) || req.code.expose().len() > 100 {
        return Err(invalid_grant("invalid authorization code"));
    }
    let now = p.clock.now();
    // A client that may refresh keeps the grant for the family's whole life.
    let grant_expires = user_tokens::grant_lifetime(c, now);
    let code = match p.store.redeem_code(&req.code.digest(), &c.id, now, grant_expires).await? {
        // The store redeems only the client's own codes; checked again, as the proof says so.
        Redemption::Redeemed(code) if code.client_id == c.id => code,
        Redemption::Replayed(code) => {
            // A public client proves nothing but its id, which is public: a
            // stranger holding a spent code could otherwise end its owner's
            // grant. Only the PKCE verifier shows the replay is the client's.
            let proven = !c.is_public() || code.code_challenge.verify(&req.code_verifier);
            if code.client_id == c.id && proven {
                tracing::warn!(client = %c.id, grant = %code.grant_id, "authorization code replayed: revoking its tokens");
                p.revocations.revoke_grant(&code.grant_id, &code.client_id).await?;
            }
            return Err(invalid_grant("invalid authorization code"));
        }
        Redemption::Redeemed(_) | Redemption::WrongClient | Redemption::Unknown => {
            return Err(invalid_grant("invalid authorization code"));
        }
    };
    // The code is spent from here on: any failure leaves it unusable.
    let fail = |d: &str| invalid_grant(d);
    if code.redirect_uri != req.redirect_uri {
        p.revocations.revoke_grant(&code.grant_id, &code.client_id).await?;
        return Err(fail("redirect_uri does not match the authorization request"));
    }
    if !code.code_challenge.verify(&req.code_verifier) {
        p.revocations.revoke_grant(&code.grant_id, &code.client_id).await?;
        return Err(fail("code_verifier does not match the code_challenge"));
    }
    // RFC 9449 §10: a code asked for with `dpop_jkt` is redeemed only with
    // a proof of that key.
    if let Some(bound) = &code.dpop_jkt
        && jkt != Some(bound.as_str())
    {
        p.revocations.revoke_grant(&code.grant_id, &code.client_id).await?;
        return Err(fail("the code is bound to another DPoP key (dpop_jkt)"));
    }
    let user = match p.store.get_user(&code.user_id).await? {
        Some(u) if !u.disabled => u,
        _ => {
            p.revocations.revoke_grant(&code.grant_id, &code.client_id).await?;
            return Err(fail("the user is no longer active"));
        }
    };
    Ok(RedeemedCode { client: client.clone(), code, user, grant_expires })
}
