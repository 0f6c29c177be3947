//! [`Authority`]: the authorization server's state and the steps shared by
//! every endpoint: client authentication, key access, token issuance.
//! Endpoint-specific steps live in `grant/` and `endpoint/`.

use std::sync::{Arc, RwLock};

use tessera_proto::TokenResponse;

use crate::cache::{ClientCache, ConfigCache, ConfigView, RevokedSet};
use crate::client::Client;
use crate::client::TokenFormat;
use crate::client_auth::{self, ClientCall};
use crate::clock::Clock;
use crate::csrf::CsrfKey;
use crate::error::OAuthError;
use crate::grant::{self, TokenRequest};
use crate::keys::{Algorithm, KeyError, KeySet, MasterKey, SigningKey};
use crate::params::Params;
use crate::password::PasswordHashing;
use crate::random::Random;
use crate::scope::ScopeSet;
use crate::secret::{Digest, Secret};
use crate::store::{OpaqueToken, Purged, Revocation, RevokedToken, Store, StoreError, StoredKey};
use crate::throttle::Throttle;
use crate::token::{TokenFacts, jwt, opaque};

/// Server-wide settings the protocol logic needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `iss` of every token and the base of every endpoint URL.
    pub issuer: String,
    /// Algorithm of the key that signs new JWTs.
    pub signing_alg: Algorithm,
    /// `aud` for a client that registered no audience and asked for none.
    pub default_audience: String,
    /// How many opaque-token lookups introspection keeps in memory.
    pub introspection_cache_capacity: u64,
    /// How long a browser session lasts after sign-in, in seconds.
    pub session_ttl: i64,
    /// Password hashes computed at once (each ~19 MiB and one core).
    pub password_hash_concurrency: usize,
}

impl Settings {
    /// Defaults for everything but the issuer.
    pub fn new(issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        Self {
            default_audience: issuer.clone(),
            issuer,
            signing_alg: Algorithm::EdDSA,
            introspection_cache_capacity: 10_000,
            session_ttl: DEFAULT_SESSION_TTL,
            password_hash_concurrency: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        }
    }
}

/// Ten hours, Keycloak's default SSO session maximum: one working day.
pub const DEFAULT_SESSION_TTL: i64 = 10 * 60 * 60;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
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
        TokenResponse {
            access_token: self.token.expose().to_string(),
            token_type: "Bearer".into(),
            expires_in: ttl,
            scope: (!self.facts.scope.is_empty()).then(|| self.facts.scope.clone()),
            refresh_token: None,
            id_token: None,
        }
    }
}

pub struct Authority {
    settings: Settings,
    store: Arc<dyn Store>,
    master: MasterKey,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Random>,
    clients: ClientCache,
    config: ConfigCache,
    keys: RwLock<(u64, Arc<KeySet>)>,
    pub(crate) revoked: RevokedSet,
    pub(crate) opaque_cache: moka::sync::Cache<Digest, Arc<OpaqueToken>>,
    /// JWTs whose signature, type and issuer were verified with the current
    /// key set, by digest; expiry, revocation and the client are still
    /// checked on every use. Emptied whenever the key set is reloaded.
    pub(crate) jwt_cache: moka::sync::Cache<Digest, Arc<tessera_proto::AccessTokenClaims>>,
    pub(crate) passwords: PasswordHashing,
    pub(crate) throttle: Throttle,
    csrf: CsrfKey,
    /// The highest revocation sequence number this process knows of; the
    /// revocation feed's long-polls wait on it.
    feed_head: tokio::sync::watch::Sender<i64>,
    /// When keys were last reloaded for a JWT with an unknown `kid`.
    unknown_kid_reload: std::sync::atomic::AtomicI64,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority").field("issuer", &self.settings.issuer).finish_non_exhaustive()
    }
}

impl Authority {
    /// Loads (or on first start creates) the signing key and the revocation
    /// list, so the first request is served from a warm state.
    pub async fn start(
        settings: Settings,
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
        for alg in [settings.signing_alg, Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
            if !keys.iter().any(|k| k.alg() == alg && k.activates_at() <= now) {
                // First start, or a new algorithm: a key that signs at once.
                keys.push(create_key(store.as_ref(), &master, rng.as_ref(), alg, now, now).await?);
            }
        }
        let keyset = KeySet::new(keys, settings.signing_alg);
        let opaque_cache = moka::sync::Cache::builder().max_capacity(settings.introspection_cache_capacity).build();
        let jwt_cache = moka::sync::Cache::builder().max_capacity(settings.introspection_cache_capacity).build();
        let csrf = CsrfKey::new(&master);
        let a = Self {
            store,
            master,
            clock,
            rng,
            clients: ClientCache::default(),
            config: ConfigCache::default(),
            keys: RwLock::new((generation, Arc::new(keyset))),
            revoked: RevokedSet::default(),
            opaque_cache,
            jwt_cache,
            passwords: PasswordHashing::new(settings.password_hash_concurrency),
            throttle: Throttle::default(),
            csrf,
            settings,
            feed_head: tokio::sync::watch::Sender::new(0),
            unknown_kid_reload: std::sync::atomic::AtomicI64::new(i64::MIN),
        };
        a.sync_revocations().await?;
        Ok(a)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The clock in milliseconds, for token ids.
    pub fn now_millis(&self) -> i64 {
        self.clock.now_millis()
    }
    pub fn rng(&self) -> &dyn Random {
        self.rng.as_ref()
    }
    /// Encrypts a short-lived secret the store must hold (AES-256-GCM under
    /// the master key, bound to `aad`).
    pub(crate) fn seal(&self, plaintext: &[u8], aad: &str) -> Result<Vec<u8>, OAuthError> {
        self.master.seal(self.rng.as_ref(), plaintext, aad).map_err(|e| OAuthError::server_error(e.to_string()))
    }
    pub(crate) fn open(&self, sealed: &[u8], aad: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, OAuthError> {
        self.master.open(sealed, aad).map_err(|e| OAuthError::server_error(e.to_string()))
    }
    pub fn csrf(&self) -> &CsrfKey {
        &self.csrf
    }
    pub fn passwords(&self) -> &PasswordHashing {
        &self.passwords
    }

    /// The store's configuration generation: read once per request and
    /// passed to [`Self::keys_at`] and [`Self::client_at`], so a request sees
    /// one consistent view at the cost of one check.
    pub fn generation(&self) -> u64 {
        self.store.config_generation()
    }

    /// The current key set.
    pub async fn keys(&self) -> Result<Arc<KeySet>, OAuthError> {
        self.keys_at(self.generation()).await
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
    pub(crate) async fn reload_keys_for_unknown_kid(&self, generation: u64) -> Result<Option<Arc<KeySet>>, OAuthError> {
        use std::sync::atomic::Ordering;
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
    pub(crate) fn keys_are_current(&self, set: &Arc<KeySet>) -> bool {
        self.keys.read().is_ok_and(|r| Arc::ptr_eq(&r.1, set))
    }

    async fn load_key_set(&self, generation: u64) -> Result<Arc<KeySet>, OAuthError> {
        let keys =
            load_keys(self.store.as_ref(), &self.master).await.map_err(|e| OAuthError::server_error(e.to_string()))?;
        let set = Arc::new(KeySet::new(keys, self.settings.signing_alg));
        if let Ok(mut w) = self.keys.write()
            && w.0 <= generation
        {
            *w = (generation, set.clone());
        }
        self.jwt_cache.invalidate_all();
        Ok(set)
    }

    pub async fn client(&self, id: &str) -> Result<Option<Arc<Client>>, OAuthError> {
        self.client_at(self.generation(), id).await
    }

    pub async fn client_at(&self, generation: u64, id: &str) -> Result<Option<Arc<Client>>, OAuthError> {
        Ok(self.clients.get(self.store.as_ref(), generation, id).await?)
    }

    /// Origins, discovery facts and scope sentences as of now, from memory
    /// unless a client, key or scope changed since the last look.
    pub async fn config_view(&self) -> Result<Arc<ConfigView>, OAuthError> {
        Ok(self.config.get(self.store.as_ref(), self.generation()).await?)
    }

    /// CORS: whether some client registered `origin`.
    pub async fn origin_allowed(&self, origin: &str) -> bool {
        self.config_view().await.is_ok_and(|v| v.origins.contains(origin))
    }

    /// Reads a request's client credentials and looks up the client they
    /// name, once: see [`ClientCall`].
    pub async fn client_call(&self, authorization: Option<&str>, params: &Params) -> ClientCall {
        let generation = self.generation();
        let outcome = match client_auth::extract(authorization, params) {
            Ok(Some(creds)) => match self.client_at(generation, &creds.client_id).await {
                Ok(client) => Ok((creds, client)),
                Err(e) => Err(e),
            },
            Ok(None) => Err(OAuthError::invalid_client("client authentication required")),
            Err(e) => Err(e),
        };
        ClientCall::new(generation, outcome)
    }

    /// `POST /oauth2/token`.
    pub async fn token(&self, authorization: Option<&str>, params: &Params) -> Result<TokenResponse, OAuthError> {
        self.token_for(&self.client_call(authorization, params).await, params).await
    }

    /// `POST /oauth2/token`, its credentials already read.
    pub async fn token_for(&self, call: &ClientCall, params: &Params) -> Result<TokenResponse, OAuthError> {
        let generation = call.generation();
        let client = call.authenticate()?;
        match TokenRequest::parse(params)? {
            TokenRequest::ClientCredentials(r) => {
                Ok(grant::client_credentials::handle(self, generation, &client, r).await?.into_response())
            }
            TokenRequest::AuthorizationCode(r) => grant::authorization_code::handle(self, generation, &client, r).await,
            TokenRequest::RefreshToken(r) => grant::refresh_token::handle(self, generation, &client, r).await,
            TokenRequest::DeviceCode(r) => grant::device_code::handle(self, generation, &client, r).await,
        }
    }

    /// RFC 8707 / RFC 9068 §3: the requested resources, each registered for
    /// the client; or all the client's audiences; or the default audience.
    pub fn audience_for(&self, client: &Client, resources: &[String]) -> Result<Vec<String>, OAuthError> {
        if resources.is_empty() {
            if client.settings.audiences.is_empty() {
                return Ok(vec![self.settings.default_audience.clone()]);
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
    pub async fn issue_access_token(
        &self,
        generation: u64,
        client: &Client,
        subject: String,
        scope: ScopeSet,
        audience: Vec<String>,
        ttl: u64,
    ) -> Result<Issued, OAuthError> {
        self.issue_as(generation, client, subject, scope, audience, ttl, None).await
    }

    /// An access token for a user, carrying the grant it belongs to.
    #[allow(clippy::too_many_arguments)]
    pub async fn issue_user_access_token(
        &self,
        generation: u64,
        client: &Client,
        user_id: &str,
        scope: ScopeSet,
        audience: Vec<String>,
        auth_time: i64,
        grant_id: &str,
    ) -> Result<Issued, OAuthError> {
        let ttl = client.settings.access_token_ttl;
        let user = Some((auth_time, grant_id.to_string()));
        self.issue_as(generation, client, user_id.to_string(), scope, audience, ttl, user).await
    }

    /// `user`: `(auth_time, grant_id)` of a person's grant.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn issue_as(
        &self,
        generation: u64,
        client: &Client,
        subject: String,
        scope: ScopeSet,
        audience: Vec<String>,
        ttl: u64,
        user: Option<(i64, String)>,
    ) -> Result<Issued, OAuthError> {
        let now = self.clock.now();
        let (auth_time, grant_id) = user.map_or((None, None), |(t, g)| (Some(t), Some(g)));
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
        };
        let token = match client.settings.token_format {
            TokenFormat::Jwt => {
                let keys = self.keys_at(generation).await?;
                let claims = jwt::claims_of(&self.settings.issuer, &facts);
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
                        scope: facts.scope.clone(),
                        audience: facts.audience.clone(),
                        issued_at: facts.issued_at,
                        expires_at: facts.expires_at,
                        auth_time: facts.auth_time,
                        grant_id: facts.grant_id.clone(),
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
        let mut algs = vec![self.settings.signing_alg];
        algs.extend(
            [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256]
                .into_iter()
                .filter(|a| *a != self.settings.signing_alg),
        );
        for alg in algs {
            let key = create_key(
                self.store.as_ref(),
                &self.master,
                self.rng.as_ref(),
                alg,
                now,
                now.saturating_add(activate_in.max(0)),
            )
            .await
            .map_err(|e| OAuthError::server_error(e.to_string()))?;
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
    pub async fn revoke_key(&self, kid: &str) -> Result<Option<Option<String>>, OAuthError> {
        let now = self.clock.now();
        // From the store, not a cache: the CLI runs beside live servers.
        let keys = self.load_key_set(self.generation()).await?;
        let Some((key, status)) = keys.describe(now).into_iter().find(|(k, _)| k.kid() == kid) else {
            return Ok(None);
        };
        let replacement = if status == crate::keys::KeyStatus::Active {
            let new = create_key(self.store.as_ref(), &self.master, self.rng.as_ref(), key.alg(), now, now)
                .await
                .map_err(|e| OAuthError::server_error(e.to_string()))?;
            Some(new.kid().to_string())
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
        self.record_revocation(&r).await?;
        tracing::warn!(kid, replacement = replacement.as_deref(), "revoked a signing key");
        self.load_key_set(self.generation()).await?;
        Ok(Some(replacement))
    }

    /// Applies revocations recorded since the last call (by this process or
    /// another) to the in-memory set and caches.
    pub async fn sync_revocations(&self) -> Result<(), StoreError> {
        loop {
            let batch = self.store.revocations_after(self.revoked.last_seq(), 10_000).await?;
            let Some(last) = batch.last() else {
                return Ok(());
            };
            self.advance_feed(last.seq);
            for d in self.revoked.apply(&batch) {
                self.opaque_cache.invalidate(&d);
            }
        }
    }

    /// Stores a revocation and applies it in this process at once: the
    /// success answer must not come before the token stops working here,
    /// and long-polling feed readers wake up now rather than at the next sync.
    pub async fn record_revocation(&self, r: &Revocation) -> Result<i64, OAuthError> {
        let seq = self.store.revoke(r).await?;
        self.revoked.insert(r.token.clone(), r.expires_at, r.revoked_at);
        if let RevokedToken::Opaque(d) = &r.token {
            self.opaque_cache.invalidate(d);
        }
        self.advance_feed(seq);
        Ok(seq)
    }

    fn advance_feed(&self, seq: i64) {
        self.feed_head.send_if_modified(|h| {
            let moved = seq > *h;
            *h = (*h).max(seq);
            moved
        });
    }

    /// Changes whenever a revocation is recorded here or seen from elsewhere.
    pub fn feed_watch(&self) -> tokio::sync::watch::Receiver<i64> {
        self.feed_head.subscribe()
    }

    /// Deletes expired tokens and revocation entries; a background task calls
    /// this until it returns less than a full batch.
    pub async fn purge_expired(&self, batch: u32) -> Result<Purged, StoreError> {
        let now = self.clock.now();
        self.revoked.forget_expired(now);
        self.store.purge_expired(now, batch).await
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
