//! Client credentials grant, RFC 6749 §4.4, with resource indicators
//! (RFC 8707 §2). No refresh token is issued (§4.4.3).

use tessera_proto::TokenResponse;

use crate::client::{ClientKind, GrantType, validate_resource_uri};
use crate::client_auth::AuthenticatedClient;
use crate::error::OAuthError;
use crate::issuer::{AccessRequest, TokenIssuer};
use crate::params::Params;
use crate::scope::ScopeSet;

#[derive(Debug)]
pub struct Request {
    /// `None`: the client asked for no scope, so it gets all of its own.
    pub scope: Option<ScopeSet>,
    pub resources: Vec<String>,
}

impl Request {
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        let scope = params.get("scope").map(ScopeSet::parse).transpose()?;
        let resources = params.get_all("resource").into_iter().map(String::from).collect::<Vec<_>>();
        for r in &resources {
            validate_resource_uri(r)?;
        }
        Ok(Self { scope, resources })
    }
}

pub async fn handle(
    issuer: &TokenIssuer,
    generation: u64,
    client: &AuthenticatedClient,
    req: Request,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let c = client.client();
    if !c.allows_grant(GrantType::ClientCredentials) {
        return Err(OAuthError::unauthorized_client("this client may not use the client_credentials grant"));
    }
    // Registration refuses this combination; a row written by other means must
    // not let anyone who knows a public client's id act as that client (§4.4).
    if let ClientKind::Public = c.kind {
        return Err(OAuthError::unauthorized_client("a public client cannot use client_credentials: it has no secret"));
    }
    let allowed = c.scope();
    let scope = match req.scope {
        None => allowed.clone(),
        Some(s) if s.is_subset_of(allowed) => s,
        Some(s) => {
            return Err(OAuthError::invalid_scope(format!(
                "scope not allowed for this client: {}",
                s.not_in(allowed).join(" ")
            )));
        }
    };
    let audience = issuer.audience_for(c, &req.resources)?;
    let (subject, ttl, jkt) = (c.id.to_string(), c.settings.access_token_ttl, jkt.map(str::to_string));
    let req = AccessRequest { subject, scope, audience, ttl, user: None, jkt };
    Ok(issuer.issue(generation, c, req).await?.into_response())
}
