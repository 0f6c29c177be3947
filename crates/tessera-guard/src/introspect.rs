//! Opaque tokens, checked by token introspection (RFC 7662 §2) with a
//! bounded cache: an answer is kept no longer than the token's remaining
//! life nor than the configured maximum, and dropped at once when the
//! revocation feed names the token (by SHA-256), its grant or its client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_proto::IntrospectionResponse;

use crate::GuardError;
use crate::http::Credentials;
use crate::jwt::{Claims, Expect, Invalid};

struct Cached {
    /// `None`: inactive (cached briefly, so junk cannot make us call the
    /// issuer once per request).
    claims: Option<Arc<Claims>>,
    ttl: Duration,
}

struct ByTtl;

impl moka::Expiry<[u8; 32], Arc<Cached>> for ByTtl {
    fn expire_after_create(&self, _: &[u8; 32], v: &Arc<Cached>, _: Instant) -> Option<Duration> {
        Some(v.ttl)
    }
}

/// How long an "inactive" answer is remembered.
const NEGATIVE_TTL: Duration = Duration::from_secs(5);

pub(crate) struct Introspector {
    endpoint: String,
    credentials: Credentials,
    http: reqwest::Client,
    max_ttl: Duration,
    cache: moka::sync::Cache<[u8; 32], Arc<Cached>>,
}

impl Introspector {
    pub fn new(
        endpoint: String,
        credentials: Credentials,
        http: reqwest::Client,
        max_ttl: Duration,
        capacity: u64,
    ) -> Self {
        let cache = moka::sync::Cache::builder().max_capacity(capacity).expire_after(ByTtl).build();
        Self { endpoint, credentials, http, max_ttl, cache }
    }

    /// `Ok(Err(_))`: the issuer says no. `Err(_)`: the issuer could not be asked.
    pub async fn check(
        &self,
        token: &str,
        digest: [u8; 32],
        expect: &Expect,
        now: i64,
    ) -> Result<Result<Arc<Claims>, Invalid>, GuardError> {
        if let Some(c) = self.cache.get(&digest) {
            return Ok(match &c.claims {
                Some(claims) => crate::jwt::check_time(claims, 0, now).map(|()| claims.clone()),
                None => Err(Invalid::Inactive),
            });
        }
        let answer: IntrospectionResponse =
            crate::http::post_form(&self.http, &self.endpoint, &self.credentials, &[("token", token)]).await?;
        let verdict = claims_of(answer, expect, now);
        let ttl = match &verdict {
            Ok(c) => Duration::from_secs(c.exp.saturating_sub(now).max(0) as u64).min(self.max_ttl),
            Err(_) => NEGATIVE_TTL.min(self.max_ttl),
        };
        self.cache.insert(digest, Arc::new(Cached { claims: verdict.as_ref().ok().cloned(), ttl }));
        Ok(verdict)
    }

    pub fn forget(&self, digest: &[u8; 32]) {
        self.cache.invalidate(digest);
    }

    pub fn forget_all(&self) {
        self.cache.invalidate_all();
    }
}

/// An active answer must still be for us: same issuer (when stated), our
/// audience, not expired.
fn claims_of(r: IntrospectionResponse, expect: &Expect, now: i64) -> Result<Arc<Claims>, Invalid> {
    if !r.active {
        return Err(Invalid::Inactive);
    }
    if let Some(iss) = &r.iss
        && *iss != expect.issuer
    {
        return Err(Invalid::WrongIssuer(iss.chars().take(64).collect()));
    }
    let aud = r.aud.ok_or(Invalid::WrongAudience)?;
    let claims = Claims {
        iss: expect.issuer.clone(),
        sub: r.sub.unwrap_or_default(),
        aud,
        exp: r.exp.ok_or(Invalid::BadClaims)?,
        iat: r.iat.unwrap_or(now),
        jti: r.jti.unwrap_or_default(),
        client_id: r.client_id.ok_or(Invalid::BadClaims)?,
        nbf: None,
        scope: r.scope,
        auth_time: None,
        grant_id: None,
        // A bound token (DPoP) is refused as a bearer token by `check_claims`.
        cnf: r.cnf.map(|c| serde_json::json!({ "jkt": c.jkt })),
    };
    crate::jwt::check_claims(&claims, &Expect { leeway: 0, ..expect.clone() }, now)?;
    Ok(Arc::new(claims))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_proto::Audience;

    #[test]
    fn active_answers_must_be_for_this_api() {
        let expect = Expect { issuer: "https://as".into(), audience: "https://api".into(), leeway: 30 };
        let ok = IntrospectionResponse {
            active: true,
            client_id: Some("c".into()),
            exp: Some(200),
            aud: Some(Audience::One("https://api".into())),
            iss: Some("https://as".into()),
            ..Default::default()
        };
        assert!(claims_of(ok.clone(), &expect, 100).is_ok());
        assert_eq!(claims_of(ok.clone(), &expect, 200).err(), Some(Invalid::Expired));
        assert_eq!(claims_of(IntrospectionResponse::inactive(), &expect, 100).err(), Some(Invalid::Inactive));
        let other = IntrospectionResponse { aud: Some(Audience::One("https://else".into())), ..ok.clone() };
        assert_eq!(claims_of(other, &expect, 100).err(), Some(Invalid::WrongAudience));
        let no_aud = IntrospectionResponse { aud: None, ..ok };
        assert_eq!(claims_of(no_aud, &expect, 100).err(), Some(Invalid::WrongAudience));
    }

    /// RFC 9449 §7.1: an introspected token bound to a key (DPoP) is not
    /// accepted as a bearer token, as a bound JWT is not.
    #[test]
    fn a_bound_token_is_not_a_bearer_token() {
        let expect = Expect { issuer: "https://as".into(), audience: "https://api".into(), leeway: 30 };
        let bound = IntrospectionResponse {
            active: true,
            client_id: Some("c".into()),
            token_type: Some("DPoP".into()),
            exp: Some(200),
            aud: Some(Audience::One("https://api".into())),
            cnf: Some(tessera_proto::Confirmation { jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into() }),
            ..Default::default()
        };
        assert_eq!(claims_of(bound.clone(), &expect, 100).err(), Some(Invalid::SenderConstrained));
        assert!(claims_of(IntrospectionResponse { cnf: None, ..bound }, &expect, 100).is_ok());
    }
}
