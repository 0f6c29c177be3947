//! Token revocation, RFC 7009.
//!
//! Only the client a token was issued to can revoke it. Unknown, expired,
//! already revoked and other clients' tokens all get 200 with nothing done
//! (§2.2), so the endpoint cannot be used to probe for tokens. A revocation
//! is committed before the 200; if the store fails the answer is 503.

use crate::client_auth::ClientCall;
use crate::endpoint::introspect::{Lookup, TokenKind, TokenReader};
use crate::error::OAuthError;
use crate::params::Params;
use crate::secret::{REFRESH_PREFIX, Secret};
use crate::store::{Revocation, RevokedToken, Store};

/// `POST /oauth2/revoke`, its credentials already read. `store`: a refresh
/// token is found there.
pub async fn revoke(
    reader: &TokenReader<'_>,
    store: &dyn Store,
    call: &ClientCall,
    params: &Params,
) -> Result<(), OAuthError> {
    let generation = call.generation();
    let caller = call.authenticate()?;
    let token = params.require("token")?;
    // A refresh token takes its whole family with it (§2.1: "SHOULD also
    // invalidate all access tokens based on the same authorization grant").
    if token.starts_with(REFRESH_PREFIX) && token.len() <= 100 {
        if let Some(state) = store.get_refresh(&Secret::new(token).digest()).await?
            && state.token.client_id == caller.client().id
        {
            reader.revocations.revoke_grant(&state.token.grant_id, &state.token.client_id).await?;
        }
        return Ok(());
    }
    // `token_type_hint` is only a hint (§2.1): lookup tries both formats anyway.
    let Lookup::Active(facts, kind) = reader.lookup_at(generation, token).await? else {
        return Ok(());
    };
    if facts.client_id != caller.client().id {
        return Ok(());
    }
    let revoked = match kind {
        TokenKind::Jwt => RevokedToken::Jti(facts.jti.clone()),
        TokenKind::Opaque(d) => RevokedToken::Opaque(d),
    };
    let revocation = Revocation {
        token: revoked.clone(),
        client_id: facts.client_id.to_string(),
        expires_at: facts.expires_at,
        revoked_at: reader.clock.now(),
    };
    reader.revocations.record(&revocation).await?;
    Ok(())
}
