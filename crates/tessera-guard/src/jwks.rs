//! The issuer's signing keys (RFC 7517 JWKS), kept parsed in memory.
//!
//! Refreshed on a schedule and whenever a token names a `kid` we do not have
//! (the issuer publishes a new key before it signs with it, so by the time a
//! token carries it one fetch finds it). Unknown-`kid` fetches are
//! single-flight and at most one per `min_refetch` (a request arriving
//! sooner waits for the interval), so a flood of junk `kid`s costs the
//! issuer one request per interval, not one per token.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64ct::{Base64UrlUnpadded, Encoding};
use tessera_proto::{Jwk, JwkSet};

use crate::GuardError;
use crate::jwt::Algorithm;

/// A public key ready to verify, with the one algorithm it verifies under.
pub(crate) struct VerifyKey {
    pub alg: Algorithm,
    pub key: ParsedPublicKey,
}

/// Turns one JWK into a key, or `None` when it is not a signing key we can
/// use under an allowed algorithm (such keys are skipped, not fatal).
pub(crate) fn parse_jwk(jwk: &Jwk, allowed: &[Algorithm]) -> Option<VerifyKey> {
    if jwk.use_ != "sig" {
        return None;
    }
    let alg = Algorithm::from_name(&jwk.alg).filter(|a| allowed.contains(a))?;
    let b64 = |v: &Option<String>| v.as_deref().and_then(|s| Base64UrlUnpadded::decode_vec(s).ok());
    let key = match (alg, jwk.kty.as_str(), jwk.crv.as_deref()) {
        (Algorithm::EdDSA, "OKP", Some("Ed25519")) => ParsedPublicKey::new(&signature::ED25519, b64(&jwk.x)?).ok()?,
        (Algorithm::ES256, "EC", Some("P-256")) => {
            let (x, y) = (b64(&jwk.x)?, b64(&jwk.y)?);
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).ok()?
        }
        (Algorithm::RS256, "RSA", _) => RsaPublicKeyComponents { n: b64(&jwk.n)?, e: b64(&jwk.e)? }
            .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
            .ok()?,
        _ => return None,
    };
    Some(VerifyKey { alg, key })
}

type Keys = HashMap<String, Arc<VerifyKey>>;

pub(crate) struct KeyCache {
    jwks_uri: String,
    http: reqwest::Client,
    allowed: Vec<Algorithm>,
    min_refetch: Duration,
    keys: RwLock<Arc<Keys>>,
    /// When the last fetch finished, and how many fetches there have been.
    fetched: RwLock<(Instant, u64)>,
    fetching: tokio::sync::Mutex<()>,
}

impl KeyCache {
    pub async fn load(
        http: reqwest::Client,
        jwks_uri: String,
        allowed: Vec<Algorithm>,
        min_refetch: Duration,
    ) -> Result<Self, GuardError> {
        let c = Self {
            jwks_uri,
            http,
            allowed,
            min_refetch,
            keys: RwLock::new(Arc::new(HashMap::new())),
            fetched: RwLock::new((Instant::now(), 0)),
            fetching: tokio::sync::Mutex::new(()),
        };
        c.refresh().await?;
        Ok(c)
    }

    pub fn get(&self, kid: &str) -> Option<Arc<VerifyKey>> {
        self.keys.read().ok()?.get(kid).cloned()
    }

    pub fn len(&self) -> usize {
        self.keys.read().map(|k| k.len()).unwrap_or(0)
    }

    /// Forgets a revoked key until a JWKS fetch brings it back (the guard
    /// refuses its `kid` either way).
    pub fn remove(&self, kid: &str) {
        if let Ok(mut w) = self.keys.write()
            && w.contains_key(kid)
        {
            let mut keys = Keys::clone(&w);
            keys.remove(kid);
            *w = Arc::new(keys);
        }
    }

    fn fetch_count(&self) -> u64 {
        self.fetched.read().map(|f| f.1).unwrap_or(0)
    }

    /// For a `kid` we do not know: wait for a fetch already under way, or
    /// start one unless the last finished less than `min_refetch` ago.
    pub async fn get_or_refetch(&self, kid: &str) -> Option<Arc<VerifyKey>> {
        if let Some(k) = self.get(kid) {
            return Some(k);
        }
        let seen = self.fetch_count();
        let _one = self.fetching.lock().await;
        if self.fetch_count() != seen {
            return self.get(kid);
        }
        // Too soon after the last fetch: wait for the interval to pass rather
        // than refuse, so a key that starts signing right after a fetch
        // costs a short delay, never a failed request. Waiters queue on the
        // lock and share the one fetch.
        let since = self.fetched.read().map(|f| f.0.elapsed()).unwrap_or_default();
        if since < self.min_refetch {
            tokio::time::sleep(self.min_refetch - since).await;
        }
        if let Err(e) = self.fetch().await {
            tracing::warn!(error = %e, "could not refresh the issuer's JWKS");
        }
        self.get(kid)
    }

    /// Scheduled refresh.
    pub async fn refresh(&self) -> Result<(), GuardError> {
        let _one = self.fetching.lock().await;
        self.fetch().await
    }

    async fn fetch(&self) -> Result<(), GuardError> {
        let result = self.download().await;
        // A failed fetch also counts against `min_refetch`: an unreachable
        // issuer must not be hammered once per unknown kid.
        if let Ok(mut f) = self.fetched.write() {
            *f = (Instant::now(), f.1 + 1);
        }
        let set = result?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            if let Some(k) = parse_jwk(jwk, &self.allowed) {
                keys.insert(jwk.kid.clone(), Arc::new(k));
            }
        }
        if keys.is_empty() {
            return Err(GuardError::Discovery(format!("{} has no key for an accepted algorithm", self.jwks_uri)));
        }
        tracing::debug!(keys = keys.len(), "loaded the issuer's JWKS");
        if let Ok(mut k) = self.keys.write() {
            *k = Arc::new(keys);
        }
        Ok(())
    }

    async fn download(&self) -> Result<JwkSet, GuardError> {
        crate::http::get_json(&self.http, &self.jwks_uri, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk(kty: &str, alg: &str, crv: Option<&str>, x: Option<String>) -> Jwk {
        Jwk {
            kty: kty.into(),
            kid: "k".into(),
            use_: "sig".into(),
            alg: alg.into(),
            crv: crv.map(Into::into),
            x,
            y: None,
            n: None,
            e: None,
        }
    }

    #[test]
    fn only_usable_signing_keys_are_kept() {
        let x = Some(Base64UrlUnpadded::encode_string(&[7u8; 32]));
        assert!(parse_jwk(&jwk("OKP", "EdDSA", Some("Ed25519"), x.clone()), &Algorithm::ALL).is_some());
        assert!(parse_jwk(&jwk("OKP", "EdDSA", Some("Ed25519"), x.clone()), &[Algorithm::RS256]).is_none());
        assert!(parse_jwk(&jwk("OKP", "EdDSA", Some("X25519"), x.clone()), &Algorithm::ALL).is_none());
        assert!(parse_jwk(&jwk("OKP", "HS256", None, x.clone()), &Algorithm::ALL).is_none());
        assert!(parse_jwk(&jwk("oct", "EdDSA", None, x.clone()), &Algorithm::ALL).is_none());
        let mut enc = jwk("OKP", "EdDSA", Some("Ed25519"), x);
        enc.use_ = "enc".into();
        assert!(parse_jwk(&enc, &Algorithm::ALL).is_none());
        assert!(parse_jwk(&jwk("EC", "ES256", Some("P-256"), Some("AA".into())), &Algorithm::ALL).is_none());
    }
}
