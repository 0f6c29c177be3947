//! Token introspection, RFC 7662, and the lookup shared with revocation and
//! `tessera token inspect`.
//!
//! Who may introspect what: a client sees its own tokens; a client registered
//! with `introspection` (a resource server) sees every token. Any other
//! token, and every inactive, expired, revoked, tampered, unknown or garbage
//! one, is answered with exactly `{"active": false}` (§2.2), so the answer
//! never tells a caller whether a token it may not see exists.

use serde::Serialize;
use tessera_proto::{AccessTokenClaims, Audience, Confirmation, IntrospectionResponse};

use crate::client_auth::ClientCall;
use crate::clock::Clock;
use crate::error::OAuthError;
use crate::ids::ClientId;
use crate::issuer::TokenIssuer;
use crate::params::Params;
use crate::registry::ClientRegistry;
use crate::revocations::Revocations;
use crate::secret::{Digest, Secret};
use crate::store::RevokedToken;
use crate::token::{TokenFacts, jwt, opaque};

/// Which format a looked-up token had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    Jwt,
    Opaque(Digest),
}

/// The outcome of looking a token up.
#[derive(Debug, Clone)]
pub enum Lookup {
    Active(TokenFacts, TokenKind),
    /// Why not, for the operator; and the facts when they could be read.
    Inactive(String, Option<TokenFacts>),
}

/// What `tessera token inspect` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub format: &'static str,
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<IntrospectionResponse>,
}

/// What finding a token and deciding whether it is active takes: the keys
/// (JWTs), revocations and the opaque-token cache, and the registry (a
/// deleted client's tokens are inactive).
#[derive(Clone, Copy)]
pub struct TokenReader<'a> {
    pub issuer: &'a TokenIssuer,
    pub revocations: &'a Revocations,
    pub clients: &'a ClientRegistry,
    pub clock: &'a dyn Clock,
}

impl TokenReader<'_> {
    /// `POST /oauth2/introspect`, its credentials already read.
    pub async fn introspect_for(
        &self,
        call: &ClientCall,
        params: &Params,
    ) -> Result<IntrospectionResponse, OAuthError> {
        let generation = call.generation();
        let caller = call.authenticate()?;
        if caller.method() == crate::client_auth::AuthMethod::None {
            return Err(OAuthError::invalid_client("public clients cannot introspect tokens"));
        }
        let token = params.require("token")?;
        let response = match self.lookup_at(generation, token).await? {
            Lookup::Active(f, _) if f.client_id == caller.client().id || caller.client().settings.introspection => {
                self.describe(&f, true)
            }
            _ => IntrospectionResponse::inactive(),
        };
        Ok(response)
    }

    /// Finds a token of either format and decides whether it is active.
    /// Errors only when the store cannot answer.
    pub async fn lookup(&self, token: &str) -> Result<Lookup, OAuthError> {
        self.lookup_at(self.clients.generation(), token).await
    }

    pub async fn lookup_at(&self, generation: u64, token: &str) -> Result<Lookup, OAuthError> {
        let now = self.clock.now();
        if opaque::looks_opaque(token) {
            let key = Secret::new(token).key();
            let digest = key.sha256;
            let Some((record, cached)) = self.revocations.opaque(&key).await? else {
                return Ok(Lookup::Inactive("unknown token".into(), None));
            };
            let facts = TokenFacts {
                jti: record.jti.clone(),
                client_id: record.client_id.clone(),
                subject: record.subject.clone(),
                scope: record.scope.to_string(),
                audience: record.audience.clone(),
                issued_at: record.issued_at,
                expires_at: record.expires_at,
                auth_time: record.auth_time,
                grant_id: record.grant_id.clone(),
                jkt: record.jkt.clone(),
            };
            if now >= record.expires_at {
                return Ok(Lookup::Inactive(format!("expired at {}", record.expires_at), Some(facts)));
            }
            if self.revocations.contains(&RevokedToken::Opaque(digest)) || self.revocations.with_grant_or_client(&facts)
            {
                return Ok(Lookup::Inactive("revoked".into(), Some(facts)));
            }
            if self.clients.client_at(generation, record.client_id.as_str()).await?.is_none() {
                return Ok(Lookup::Inactive("its client was deleted".into(), Some(facts)));
            }
            if !cached {
                self.revocations.remember_opaque(digest, record);
            }
            return Ok(Lookup::Active(facts, TokenKind::Opaque(digest)));
        }
        if token.len() > jwt::MAX_JWT_LEN || token.bytes().filter(|b| *b == b'.').count() != 2 {
            return Ok(Lookup::Inactive("not a token issued by this server".into(), None));
        }
        let claims = match self.issuer.verify_jwt(generation, token, now).await? {
            Ok(c) => c,
            Err((why, claims)) => {
                return Ok(Lookup::Inactive(why.to_string(), claims.map(|c| facts_of(&c))));
            }
        };
        let facts = facts_of(&claims);
        if self.revocations.contains(&RevokedToken::Jti(claims.jti.clone()))
            || self.revocations.with_grant_or_client(&facts)
        {
            return Ok(Lookup::Inactive("revoked".into(), Some(facts)));
        }
        if self.clients.client_at(generation, &claims.client_id).await?.is_none() {
            return Ok(Lookup::Inactive("its client was deleted".into(), Some(facts)));
        }
        Ok(Lookup::Active(facts, TokenKind::Jwt))
    }

    /// For `tessera token inspect`: every reason spelled out.
    pub async fn inspect(&self, token: &str) -> Result<Inspection, OAuthError> {
        let format = if opaque::looks_opaque(token) { "opaque" } else { "jwt" };
        Ok(match self.lookup(token).await? {
            Lookup::Active(f, _) => {
                Inspection { format, valid: true, reason: None, claims: Some(self.describe(&f, true)) }
            }
            Lookup::Inactive(why, f) => Inspection {
                format: if f.is_none() && format == "jwt" { "unknown" } else { format },
                valid: false,
                reason: Some(why),
                claims: f.map(|f| self.describe(&f, false)),
            },
        })
    }

    fn describe(&self, f: &TokenFacts, active: bool) -> IntrospectionResponse {
        IntrospectionResponse {
            active,
            scope: (!f.scope.is_empty()).then(|| f.scope.clone()),
            client_id: Some(f.client_id.to_string()),
            // RFC 9449 §6.2: a DPoP-bound token says so, with its key.
            token_type: Some(if f.jkt.is_some() { "DPoP" } else { "Bearer" }.into()),
            exp: Some(f.expires_at),
            iat: Some(f.issued_at),
            sub: Some(f.subject.clone()),
            aud: Some(Audience::from_list(f.audience.clone())),
            iss: Some(self.issuer.issuer().to_string()),
            jti: Some(f.jti.clone()),
            cnf: f.jkt.clone().map(|jkt| Confirmation { jkt }),
        }
    }
}

fn facts_of(c: &AccessTokenClaims) -> TokenFacts {
    TokenFacts {
        jti: c.jti.clone(),
        client_id: ClientId::from(c.client_id.as_str()),
        subject: c.sub.clone(),
        scope: c.scope.clone().unwrap_or_default(),
        audience: c.aud.to_vec(),
        issued_at: c.iat,
        expires_at: c.exp,
        auth_time: c.auth_time,
        grant_id: c.grant_id.clone(),
        jkt: c.cnf.as_ref().map(|c| c.jkt.clone()),
    }
}
