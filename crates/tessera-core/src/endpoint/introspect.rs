//! Token introspection, RFC 7662, and the lookup shared with revocation and
//! `tessera token inspect`.
//!
//! Who may introspect what: a client sees its own tokens; a client registered
//! with `introspection` (a resource server) sees every token. Any other
//! token, and every inactive, expired, revoked, tampered, unknown or garbage
//! one, is answered with exactly `{"active": false}` (§2.2), so the answer
//! never tells a caller whether a token it may not see exists.

use std::sync::Arc;

use serde::Serialize;
use tessera_proto::{AccessTokenClaims, Audience, IntrospectionResponse};

use crate::authority::Authority;
use crate::client_auth::ClientCall;
use crate::error::OAuthError;
use crate::params::Params;
use crate::secret::{Digest, Secret};
use crate::store::RevokedToken;
use crate::token::jwt::Rejection;
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

impl Authority {
    /// `POST /oauth2/introspect`.
    pub async fn introspect(
        &self,
        authorization: Option<&str>,
        params: &Params,
    ) -> Result<IntrospectionResponse, OAuthError> {
        self.introspect_for(&self.client_call(authorization, params).await, params).await
    }

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
        self.lookup_at(self.generation(), token).await
    }

    pub async fn lookup_at(&self, generation: u64, token: &str) -> Result<Lookup, OAuthError> {
        let now = self.now();
        if opaque::looks_opaque(token) {
            let key = Secret::new(token).key();
            let digest = key.sha256;
            let (record, cached) = match self.opaque_cache.get(&digest) {
                Some(r) => (r, true),
                None => match self.store().find_token(&key).await? {
                    Some(r) => (Arc::new(r), false),
                    None => return Ok(Lookup::Inactive("unknown token".into(), None)),
                },
            };
            let facts = TokenFacts {
                jti: record.jti.clone(),
                client_id: record.client_id.clone(),
                subject: record.subject.clone(),
                scope: record.scope.clone(),
                audience: record.audience.clone(),
                issued_at: record.issued_at,
                expires_at: record.expires_at,
                auth_time: record.auth_time,
                grant_id: record.grant_id.clone(),
            };
            if now >= record.expires_at {
                return Ok(Lookup::Inactive(format!("expired at {}", record.expires_at), Some(facts)));
            }
            if self.revoked.contains(&RevokedToken::Opaque(digest)) || self.revoked_with_grant_or_client(&facts) {
                return Ok(Lookup::Inactive("revoked".into(), Some(facts)));
            }
            if self.client_at(generation, &record.client_id).await?.is_none() {
                return Ok(Lookup::Inactive("its client was deleted".into(), Some(facts)));
            }
            if !cached {
                self.opaque_cache.insert(digest, record);
            }
            return Ok(Lookup::Active(facts, TokenKind::Opaque(digest)));
        }
        if token.len() > jwt::MAX_JWT_LEN || token.bytes().filter(|b| *b == b'.').count() != 2 {
            return Ok(Lookup::Inactive("not a token issued by this server".into(), None));
        }
        let claims = match self.verify_jwt(generation, token, now).await? {
            Ok(c) => c,
            Err((why, claims)) => {
                return Ok(Lookup::Inactive(why.to_string(), claims.map(|c| facts_of(&c))));
            }
        };
        let facts = facts_of(&claims);
        if self.revoked.contains(&RevokedToken::Jti(claims.jti.clone())) || self.revoked_with_grant_or_client(&facts) {
            return Ok(Lookup::Inactive("revoked".into(), Some(facts)));
        }
        if self.client_at(generation, &claims.client_id).await?.is_none() {
            return Ok(Lookup::Inactive("its client was deleted".into(), Some(facts)));
        }
        Ok(Lookup::Active(facts, TokenKind::Jwt))
    }

    /// Its grant was revoked, or its client deleted after it was issued (a
    /// client re-created under the same id must not revive those tokens).
    fn revoked_with_grant_or_client(&self, f: &TokenFacts) -> bool {
        f.grant_id.as_ref().is_some_and(|g| self.revoked.contains(&RevokedToken::Grant(g.clone())))
            || self.revoked.client_revoked(&f.client_id, f.issued_at)
    }

    /// Verifies a JWT, from the verified-token cache when it was seen before.
    async fn verify_jwt(
        &self,
        generation: u64,
        token: &str,
        now: i64,
    ) -> Result<Result<AccessTokenClaims, (Rejection, Option<Box<AccessTokenClaims>>)>, OAuthError> {
        let keys = self.keys_at(generation).await?;
        let digest = Digest::of(token.as_bytes());
        if let Some(c) = self.jwt_cache.get(&digest) {
            if now >= c.exp {
                return Ok(Err((Rejection::Expired(c.exp), Some(Box::new((*c).clone())))));
            }
            return Ok(Ok((*c).clone()));
        }
        let mut used = keys;
        let mut r = jwt::verify(&used, &self.settings().issuer, token, now);
        if let Err((jwt::Rejection::UnknownKey, _)) = &r
            && let Some(fresh) = self.reload_keys_for_unknown_kid(generation).await?
        {
            r = jwt::verify(&fresh, &self.settings().issuer, token, now);
            used = fresh;
        }
        if let Ok(c) = &r {
            self.jwt_cache.insert(digest, Arc::new(c.clone()));
            // The keys were reloaded meanwhile (say, a key revoked) and the
            // reload's flush may have run before this insert.
            if !self.keys_are_current(&used) {
                self.jwt_cache.invalidate(&digest);
            }
        }
        Ok(r)
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
            client_id: Some(f.client_id.clone()),
            token_type: Some("Bearer".into()),
            exp: Some(f.expires_at),
            iat: Some(f.issued_at),
            sub: Some(f.subject.clone()),
            aud: Some(Audience::from_list(f.audience.clone())),
            iss: Some(self.settings().issuer.clone()),
            jti: Some(f.jti.clone()),
        }
    }
}

fn facts_of(c: &AccessTokenClaims) -> TokenFacts {
    TokenFacts {
        jti: c.jti.clone(),
        client_id: c.client_id.clone(),
        subject: c.sub.clone(),
        scope: c.scope.clone().unwrap_or_default(),
        audience: c.aud.to_vec(),
        issued_at: c.iat,
        expires_at: c.exp,
        auth_time: c.auth_time,
        grant_id: c.grant_id.clone(),
    }
}
