//! [`TokenIssuer`]: the signing keys (loading, reloading, rotation), the
//! token formats (RFC 9068 JWTs, opaque tokens) and issuance; the audience
//! rule of RFC 8707 / RFC 9068 §3; sealing short-lived secrets under the
//! master key. The verified-JWT cache lives here too, since it is only
//! valid for one key set and is emptied whenever the keys are reloaded.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use tessera_proto::{AccessTokenClaims, TokenResponse};

use crate::client::{Client, TokenFormat};
use crate::clock::Clock;
use crate::error::OAuthError;
use crate::ids::UserId;
use crate::keys::{Algorithm, KeyError, KeySet, MasterKey, SigningKey};
use crate::random::Random;
use crate::revocations::Revocations;
use crate::scope::ScopeSet;
use crate::secret::{Digest, Secret};
use crate::store::{OpaqueToken, Revocation, RevokedToken, Store, StoreError, StoredKey};
use crate::token::jwt::Rejection;
use crate::token::{TokenFacts, jwt, opaque};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the issuer {0:?} is not an absolute http(s) URL")]
    Issuer(String),
}

/// A freshly issued access token: the string, shown once, and its facts.
#[derive(Debug)]
pub struct Issued {
    pub token: Secret,
    pub facts: TokenFacts,
}

impl Issued {
    pub fn into_response(self) -> TokenResponse {
        let ttl = (self.facts.expires_at - self.facts.issued_at).max(0) as u64;
        // RFC 9449 §5: a token bound to a DPoP key is of type DPoP.
        let token_type = if self.facts.jkt.is_some() { "DPoP" } else { "Bearer" };
        TokenResponse {
            access_token: self.token.expose().to_string(),
            token_type: token_type.into(),
            expires_in: ttl,
            scope: (!self.facts.scope.is_empty()).then(|| self.facts.scope.clone()),
            refresh_token: None,
            id_token: None,
        }
    }
}

/// The person behind a user's access token: when they signed in, and the
/// grant the token belongs to.
#[derive(Debug, Clone)]
pub struct UserGrant {
    pub auth_time: i64,
    pub grant_id: String,
}

/// What an access token is for: RFC 9068 §2.2 `sub`, `scope`, `aud`, its
/// lifetime, and for a person's grant the grant it belongs to.
#[derive(Debug, Clone)]
pub struct AccessRequest {
    pub subject: String,
    pub scope: ScopeSet,
    pub audience: Vec<String>,
    pub ttl: u64,
    pub user: Option<UserGrant>,
    /// The DPoP key (RFC 7638 thumbprint) the token is bound to, from the
    /// request's verified proof; `None` for a bearer token.
    pub jkt: Option<String>,
}

impl AccessRequest {
    /// An access token for a user, carrying the grant it belongs to, for
    /// the client's access-token lifetime.
    pub(crate) fn for_user(
        client: &Client,
        user_id: &UserId,
        scope: ScopeSet,
        audience: Vec<String>,
        user: UserGrant,
    ) -> Self {
        let ttl = client.settings.access_token_ttl;
        Self { subject: user_id.to_string(), scope, audience, ttl, user: Some(user), jkt: None }
    }

    /// The same token bound to a DPoP key (RFC 9449 §6), if any.
    pub(crate) fn bound_to(self, jkt: Option<&str>) -> Self {
        Self { jkt: jkt.map(str::to_string), ..self }
    }
}

/// A JWT verification: its claims, or why not and the claims when readable.
pub(crate) type Verified = Result<AccessTokenClaims, (Rejection, Option<Box<AccessTokenClaims>>)>;

pub struct TokenIssuer {
    issuer: String,
    signing_alg: Algorithm,
    default_audience: String,
    store: Arc<dyn Store>,
    master: MasterKey,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Random>,
    keys: RwLock<(u64, Arc<KeySet>)>,
    /// JWTs whose signature, type and issuer were verified with the current
    /// key set, by digest; expiry, revocation and the client are still
    /// checked on every use. Emptied whenever the key set is reloaded.
    jwt_cache: moka::sync::Cache<Digest, Arc<AccessTokenClaims>>,
    /// When keys were last reloaded for a JWT with an unknown `kid`.
    unknown_kid_reload: AtomicI64,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

/// What [`TokenIssuer::start`] needs besides the store and injected parts.
#[derive(Debug, Clone)]
pub struct IssuerSettings {
    pub issuer: String,
    pub signing_alg: Algorithm,
    pub default_audience: String,
    pub jwt_cache_capacity: u64,
}

impl TokenIssuer {
    /// Loads (or on first start creates) a signing key of each algorithm.
    pub async fn start(
        s: IssuerSettings,
        store: Arc<dyn Store>,
        master: MasterKey,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Random>,
    ) -> Result<Self, StartError> {
        let generation = store.config_generation();
        let mut keys = load_keys(store.as_ref(), &master).await?;
        let now = clock.now();
        // Access tokens use the configured algorithm; ID tokens the client's
        // choice (RS256 by default): keep a signing key of each.
        for alg in [s.signing_alg, Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
            if !keys.iter().any(|k| k.alg() == alg && k.activates_at() <= now) {
                // First start, or a new algorithm: a key that signs at once.
                keys.push(create_key(store.as_ref(), &master, rng.as_ref(), alg, now, now).await?);
            }
        }
        let keyset = KeySet::new(keys, s.signing_alg);
        Ok(Self {
            issuer: s.issuer,
            signing_alg: s.signing_alg,
            default_audience: s.default_audience,
            store,
            master,
            clock,
            rng,
            keys: RwLock::new((generation, Arc::new(keyset))),
            jwt_cache: moka::sync::Cache::builder().max_capacity(s.jwt_cache_capacity).build(),
            unknown_kid_reload: AtomicI64::new(i64::MIN),
        })
    }

    /// `iss` of every token.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Encrypts a short-lived secret the store must hold (AES-256-GCM under
    /// the master key, bound to `aad`).
    pub(crate) fn seal(&self, plaintext: &[u8], aad: &str) -> Result<Vec<u8>, OAuthError> {
        self.master.seal(self.rng.as_ref(), plaintext, aad).map_err(|e| OAuthError::server_error(e.to_string()))
    }
    pub(crate) fn open(&self, sealed: &[u8], aad: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, OAuthError> {
        self.master.open(sealed, aad).map_err(|e| OAuthError::server_error(e.to_string()))
    }

    /// The key set as of `generation`, reloaded if a key changed in any process.
    pub async fn keys_at(&self, generation: u64) -> Result<Arc<KeySet>, OAuthError> {
        if let Ok(r) = self.keys.read()
            && r.0 == generation
        {
            return Ok(r.1.clone());
        }
        self.load_key_set(generation).await
    }

    /// A JWT names a key this process does not have: another node may have
    /// just created it (with `--activate-in 0s`) and the change notification
    /// not have arrived yet. Reloads the keys, at most once a second so junk
    /// `kid`s cannot turn into database load; `None` if it is too soon.
    async fn reload_keys_for_unknown_kid(&self, generation: u64) -> Result<Option<Arc<KeySet>>, OAuthError> {
        let now = self.clock.now();
        let last = self.unknown_kid_reload.load(Ordering::Acquire);
        if now.saturating_sub(last) < 1
            || self.unknown_kid_reload.compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire).is_err()
        {
            return Ok(None);
        }
        self.load_key_set(generation).await.map(Some)
    }

    /// Whether `set` is still the key set in use (not replaced by a reload).
    fn keys_are_current(&self, set: &Arc<KeySet>) -> bool {
        self.keys.read().is_ok_and(|r| Arc::ptr_eq(&r.1, set))
    }

    async fn load_key_set(&self, generation: u64) -> Result<Arc<KeySet>, OAuthError> {
        let keys = load_keys(self.store.as_ref(), &self.master)
            .await
            .map_err(|e| OAuthError::server_error("cannot load the signing keys").with_source(e))?;
        let set = Arc::new(KeySet::new(keys, self.signing_alg));
        if let Ok(mut w) = self.keys.write()
            && w.0 <= generation
        {
            *w = (generation, set.clone());
        }
        self.jwt_cache.invalidate_all();
        Ok(set)
    }

    /// Verifies a JWT, from the verified-token cache when it was seen before.
    pub(crate) async fn verify_jwt(&self, generation: u64, token: &str, now: i64) -> Result<Verified, OAuthError> {
        let keys = self.keys_at(generation).await?;
        let digest = Digest::of(token.as_bytes());
        if let Some(c) = self.jwt_cache.get(&digest) {
            if now >= c.exp {
                return Ok(Err((Rejection::Expired(c.exp), Some(Box::new((*c).clone())))));
            }
            return Ok(Ok((*c).clone()));
        }
        let mut used = keys;
        let mut r = jwt::verify(&used, &self.issuer, token, now);
        if let Err((jwt::Rejection::UnknownKey, _)) = &r
            && let Some(fresh) = self.reload_keys_for_unknown_kid(generation).await?
        {
            r = jwt::verify(&fresh, &self.issuer, token, now);
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

    /// RFC 8707 / RFC 9068 §3: the requested resources, each registered for
    /// the client; or all the client's audiences; or the default audience.
    pub fn audience_for(&self, client: &Client, resources: &[String]) -> Result<Vec<String>, OAuthError> {
        if resources.is_empty() {
            if client.settings.audiences.is_empty() {
                return Ok(vec![self.default_audience.clone()]);
            }
            return Ok(client.settings.audiences.clone());
        }
        let mut out: Vec<String> = Vec::new();
        for r in resources {
            if !client.settings.audiences.iter().any(|a| a == r) {
                return Err(OAuthError::invalid_target("resource not registered for this client"));
            }
            if !out.contains(r) {
                out.push(r.clone());
            }
        }
        Ok(out)
    }

    /// Issues an access token in the client's format. An opaque token is
    /// committed to the store before this returns.
    pub async fn issue(&self, generation: u64, client: &Client, req: AccessRequest) -> Result<Issued, OAuthError> {
        let now = self.clock.now();
        let AccessRequest { subject, scope, audience, ttl, user, jkt } = req;
        let (auth_time, grant_id) = user.map_or((None, None), |u| (Some(u.auth_time), Some(u.grant_id)));
        let mut jti = [0u8; 16];
        self.rng.fill(&mut jti);
        let facts = TokenFacts {
            jti: hex::encode(jti),
            client_id: client.id.clone(),
            subject,
            scope: scope.to_string(),
            audience,
            issued_at: now,
            expires_at: now.saturating_add(ttl as i64),
            auth_time,
            grant_id,
            jkt,
        };
        let token = match client.settings.token_format {
            TokenFormat::Jwt => {
                let keys = self.keys_at(generation).await?;
                let claims = jwt::claims_of(&self.issuer, &facts);
                let key = keys
                    .active(now)
                    .ok_or_else(|| OAuthError::server_error("no active signing key for the configured algorithm"))?;
                Secret::new(jwt::encode(key, &claims).map_err(|e| OAuthError::server_error(e.to_string()))?)
            }
            TokenFormat::Opaque => {
                let token = opaque::generate(self.rng.as_ref(), self.clock.now_millis());
                self.store
                    .insert_token(&OpaqueToken {
                        digest: token.sha256(),
                        id: token.token_id(),
                        jti: facts.jti.clone(),
                        client_id: facts.client_id.clone(),
                        subject: facts.subject.clone(),
                        scope,
                        audience: facts.audience.clone(),
                        issued_at: facts.issued_at,
                        expires_at: facts.expires_at,
                        auth_time: facts.auth_time,
                        grant_id: facts.grant_id.clone(),
                        jkt: facts.jkt.clone(),
                    })
                    .await?;
                token
            }
        };
        Ok(Issued { token, facts })
    }

    /// Key rotation: a new key of each algorithm, published at once and
    /// signing from `activate_in` seconds on, so resource servers and relying
    /// parties that cache the JWKS learn it before any token carries it.
    /// Returns the new key ids, the access-token algorithm's first.
    pub async fn rotate_key(&self, activate_in: i64) -> Result<Vec<String>, OAuthError> {
        let now = self.clock.now();
        let mut kids = Vec::new();
        let mut algs = vec![self.signing_alg];
        algs.extend(
            [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256].into_iter().filter(|a| *a != self.signing_alg),
        );
        for alg in algs {
            let activates_at = now.saturating_add(activate_in.max(0));
            let key = self.create_key(alg, now, activates_at).await?;
            kids.push(key.kid().to_string());
        }
        Ok(kids)
    }

    /// Revokes a compromised signing key (`tessera key revoke`): it leaves
    /// the JWKS and the key set at once, every token it signed turns
    /// inactive, and resource servers following the revocation feed refuse
    /// its `kid`. If it was the active signer of its algorithm, a new key of
    /// that algorithm is created first, active at once, so signing never
    /// stops. Returns the new key's id, if any; `None` if there is no such key.
    pub async fn revoke_key(&self, revocations: &Revocations, kid: &str) -> Result<Option<Option<String>>, OAuthError> {
        let now = self.clock.now();
        // From the store, not a cache: the CLI runs beside live servers.
        let keys = self.load_key_set(self.store.config_generation()).await?;
        let Some((key, status)) = keys.describe(now).into_iter().find(|(k, _)| k.kid() == kid) else {
            return Ok(None);
        };
        let replacement = if status == crate::keys::KeyStatus::Active {
            Some(self.create_key(key.alg(), now, now).await?.kid().to_string())
        } else {
            None
        };
        // An attacker holding the key can mint tokens with any `exp`, but a
        // kid absent from the JWKS is refused anyway; the entry only has to
        // outlive every cached JWKS and every token the key legitimately signed.
        let r = Revocation {
            token: RevokedToken::Key(kid.to_string()),
            client_id: String::new(),
            expires_at: now.saturating_add(crate::keys::RETIRE_AFTER),
            revoked_at: now,
        };
        revocations.record(&r).await?;
        tracing::warn!(kid, replacement = replacement.as_deref(), "revoked a signing key");
        self.load_key_set(self.store.config_generation()).await?;
        Ok(Some(replacement))
    }

    async fn create_key(&self, alg: Algorithm, now: i64, activates_at: i64) -> Result<SigningKey, OAuthError> {
        create_key(self.store.as_ref(), &self.master, self.rng.as_ref(), alg, now, activates_at)
            .await
            .map_err(|e| OAuthError::server_error("cannot create a signing key").with_source(e))
    }
}

async fn load_keys(store: &dyn Store, master: &MasterKey) -> Result<Vec<SigningKey>, StartError> {
    let mut out = Vec::new();
    for k in store.list_keys().await? {
        let alg = Algorithm::parse(&k.alg).ok_or_else(|| KeyError::Algorithm(k.alg.clone()))?;
        let der = master.open(&k.sealed_private_key, &k.kid)?;
        let key = SigningKey::from_pkcs8(alg, &der, k.activates_at)?;
        if key.kid() != k.kid {
            return Err(KeyError::Parse(k.kid).into());
        }
        out.push(key);
    }
    Ok(out)
}

/// Generates, seals and stores a key.
async fn create_key(
    store: &dyn Store,
    master: &MasterKey,
    rng: &dyn Random,
    alg: Algorithm,
    now: i64,
    activates_at: i64,
) -> Result<SigningKey, StartError> {
    let (key, der) = SigningKey::generate(alg, activates_at)?;
    let sealed = master.seal(rng, &der, key.kid())?;
    store
        .insert_key(&StoredKey {
            kid: key.kid().to_string(),
            alg: alg.as_str().to_string(),
            sealed_private_key: sealed,
            created_at: now,
            activates_at,
        })
        .await?;
    tracing::info!(kid = key.kid(), alg = alg.as_str(), activates_at, "generated a new signing key");
    Ok(key)
}
