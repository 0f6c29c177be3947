//! [`Authority`]: the thin front the HTTP layer and the CLI call. It owns
//! the parts, each with one job ([`TokenIssuer`], [`Revocations`],
//! [`SignIn`], [`ClientRegistry`]), wires them at start, and hands each
//! grant and endpoint only the parts it uses.

use std::sync::Arc;

use tessera_proto::{AuthorizationServerMetadata, DeviceAuthorizationResponse, IntrospectionResponse, JwkSet};
use tessera_proto::{RevocationFeed, TokenResponse};

use crate::admin::Admin;
use crate::client::Client;
use crate::client_auth::ClientCall;
use crate::clock::Clock;
use crate::csrf::CsrfKey;
use crate::dpop::{NonceMode, TokenDpop};
use crate::endpoint::authorize::{AuthorizationRequest, Authorize, AuthorizeError, Interaction, SignedIn, Step};
use crate::endpoint::device::{DeviceFlow, DeviceLookupError, DeviceRequest};
use crate::endpoint::introspect::{Inspection, Lookup, TokenReader};
use crate::endpoint::session::LoginError;
use crate::endpoint::userinfo::{BearerError, Presentation, UserInfo};
use crate::endpoint::{discovery, revocation_feed, revoke, session, userinfo};
use crate::error::OAuthError;
use crate::grant::{GrantParts, TokenRequest};
use crate::ids::ClientId;
use crate::issuer::{AccessRequest, IssuerSettings, TokenIssuer};
pub use crate::issuer::{Issued, StartError};
use crate::keys::{Algorithm, KeySet, MasterKey};
use crate::params::Params;
use crate::password::PasswordHashing;
use crate::random::Random;
use crate::redirect_uri::VerifiedRedirectUri;
use crate::registry::ClientRegistry;
use crate::revocations::{FeedWatch, Revocations};
use crate::scope::ScopeSet;
use crate::secret::Secret;
use crate::sign_in::SignIn;
use crate::store::{Grant, Purged, Store, StoreError, User};

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
    /// Whether a DPoP proof at the token endpoint and UserInfo must carry a server nonce.
    pub dpop_nonce: NonceMode,
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
            dpop_nonce: NonceMode::Required,
        }
    }
}

/// Ten hours, Keycloak's default SSO session maximum: one working day.
pub const DEFAULT_SESSION_TTL: i64 = 10 * 60 * 60;

pub struct Authority {
    settings: Settings,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Random>,
    issuer: TokenIssuer,
    revocations: Revocations,
    sign_in: SignIn,
    clients: ClientRegistry,
    dpop: TokenDpop,
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
        let passwords = PasswordHashing::new(settings.password_hash_concurrency);
        Self::start_with(settings, store, master, clock, rng, passwords).await
    }

    /// [`Self::start`] with the password hashing pool made by the caller
    /// (its threads come from [`PasswordHashing::with_spawner`]).
    pub async fn start_with(
        settings: Settings,
        store: Arc<dyn Store>,
        master: MasterKey,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Random>,
        passwords: PasswordHashing,
    ) -> Result<Self, StartError> {
        let issuer_settings = IssuerSettings {
            issuer: settings.issuer.clone(),
            signing_alg: settings.signing_alg,
            default_audience: settings.default_audience.clone(),
            jwt_cache_capacity: settings.introspection_cache_capacity,
        };
        let csrf = CsrfKey::new(&master);
        // Proofs are remembered in the store: on PostgreSQL every node
        // refuses a proof another node accepted, and a restart forgets none.
        let replays = Arc::new(crate::store::StoreReplayCache(store.clone()));
        let dpop = TokenDpop::new(&settings.issuer, &master, settings.dpop_nonce, replays)
            .map_err(|_| StartError::Issuer(settings.issuer.clone()))?;
        let issuer = TokenIssuer::start(issuer_settings, store.clone(), master, clock.clone(), rng.clone()).await?;
        let revocations = Revocations::new(store.clone(), clock.clone(), settings.introspection_cache_capacity);
        let sign_in = SignIn::new(store.clone(), clock.clone(), rng.clone(), passwords, csrf, settings.session_ttl);
        let clients = ClientRegistry::new(store.clone());
        revocations.sync().await?;
        Ok(Self { settings, store, clock, rng, issuer, revocations, sign_in, clients, dpop })
    }

    /// The replay cache DPoP proofs are checked against (default: the
    /// store's, shared by every node on PostgreSQL).
    pub fn with_dpop_replay_cache(self, cache: Arc<dyn tessera_pop::replay::ReplayCache>) -> Self {
        Self { dpop: self.dpop.with_replay_cache(cache), ..self }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    /// For the CLI's plain reads and writes; the HTTP layer goes through
    /// the methods below.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn rng(&self) -> &dyn Random {
        self.rng.as_ref()
    }
    pub fn csrf(&self) -> &CsrfKey {
        self.sign_in.csrf()
    }
    pub fn passwords(&self) -> &PasswordHashing {
        self.sign_in.passwords()
    }

    /// Readiness: whether the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    fn grant_parts(&self) -> GrantParts<'_> {
        GrantParts {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
            rng: self.rng.as_ref(),
            issuer: &self.issuer,
            revocations: &self.revocations,
        }
    }
    fn reader(&self) -> TokenReader<'_> {
        TokenReader {
            issuer: &self.issuer,
            revocations: &self.revocations,
            clients: &self.clients,
            clock: self.clock.as_ref(),
        }
    }
    fn authorize_parts(&self) -> Authorize<'_> {
        Authorize {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
            rng: self.rng.as_ref(),
            clients: &self.clients,
            issuer: &self.issuer,
        }
    }
    fn device_flow(&self) -> DeviceFlow<'_> {
        DeviceFlow {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
            rng: self.rng.as_ref(),
            clients: &self.clients,
            issuer: &self.issuer,
            throttle: self.sign_in.throttle(),
        }
    }
    fn admin(&self) -> Admin<'_> {
        Admin { store: self.store.as_ref(), clock: self.clock.as_ref(), revocations: &self.revocations }
    }

    // Clients and configuration: see [`ClientRegistry`].

    pub fn generation(&self) -> u64 {
        self.clients.generation()
    }
    pub async fn client(&self, id: &str) -> Result<Option<Arc<Client>>, OAuthError> {
        self.clients.client(id).await
    }
    pub async fn origin_allowed(&self, origin: &str) -> bool {
        self.clients.origin_allowed(origin).await
    }
    pub async fn client_call(&self, authorization: Option<&str>, params: &Params) -> ClientCall {
        self.clients.client_call(authorization, params).await
    }

    // Keys and tokens: see [`TokenIssuer`].

    /// The current key set.
    pub async fn keys(&self) -> Result<Arc<KeySet>, OAuthError> {
        self.issuer.keys_at(self.generation()).await
    }
    pub fn audience_for(&self, client: &Client, resources: &[String]) -> Result<Vec<String>, OAuthError> {
        self.issuer.audience_for(client, resources)
    }
    /// Issues an access token in the client's format (`tessera token issue`).
    pub async fn issue_access_token(
        &self,
        generation: u64,
        client: &Client,
        subject: String,
        scope: ScopeSet,
        audience: Vec<String>,
        ttl: u64,
    ) -> Result<Issued, OAuthError> {
        self.issuer
            .issue(generation, client, AccessRequest { subject, scope, audience, ttl, user: None, jkt: None })
            .await
    }
    pub async fn rotate_key(&self, activate_in: i64) -> Result<Vec<String>, OAuthError> {
        self.issuer.rotate_key(activate_in).await
    }
    pub async fn revoke_key(&self, kid: &str) -> Result<Option<Option<String>>, OAuthError> {
        self.issuer.revoke_key(&self.revocations, kid).await
    }

    // Revocations: see [`Revocations`].

    pub async fn sync_revocations(&self) -> Result<(), StoreError> {
        self.revocations.sync().await
    }
    pub async fn revoke_grant(&self, grant_id: &str, client_id: &ClientId) -> Result<(), OAuthError> {
        self.revocations.revoke_grant(grant_id, client_id).await
    }
    pub fn feed_watch(&self) -> FeedWatch {
        self.revocations.feed_watch()
    }
    pub async fn purge_expired(&self, batch: u32) -> Result<Purged, StoreError> {
        self.revocations.purge_expired(batch).await
    }
    pub fn authorize_feed_reader(&self, call: &ClientCall) -> Result<ClientId, OAuthError> {
        revocation_feed::authorize_reader(call)
    }
    pub async fn revocation_feed(&self, after: i64, limit: u32) -> Result<RevocationFeed, OAuthError> {
        revocation_feed::page(self.store.as_ref(), after, limit).await
    }

    // The token, introspection and revocation endpoints.

    /// `POST /oauth2/token`.
    pub async fn token(&self, authorization: Option<&str>, params: &Params) -> Result<TokenResponse, OAuthError> {
        self.token_for(&self.client_call(authorization, params).await, params).await
    }
    /// `POST /oauth2/token`, its credentials already read, without a DPoP proof.
    pub async fn token_for(&self, call: &ClientCall, params: &Params) -> Result<TokenResponse, OAuthError> {
        self.token_with_dpop::<&[u8]>(call, params, &[]).await
    }
    /// `POST /oauth2/token` with every `DPoP` header value of the request:
    /// the proof is checked before the grant runs, and a valid one binds
    /// the access token to its key (RFC 9449 §5).
    pub async fn token_with_dpop<V: AsRef<[u8]>>(
        &self,
        call: &ClientCall,
        params: &Params,
        dpop: &[V],
    ) -> Result<TokenResponse, OAuthError> {
        let client = call.authenticate()?;
        let request = TokenRequest::parse(params)?;
        let jkt = self.dpop.check(dpop, client.client(), self.clock.now()).await?;
        request.handle(&self.grant_parts(), call.generation(), &client, jkt.as_deref()).await
    }
    /// A fresh DPoP server nonce (`DPoP-Nonce`, RFC 9449 §8).
    pub fn dpop_nonce(&self) -> String {
        self.dpop.nonce(self.clock.now())
    }
    pub async fn introspect(
        &self,
        authorization: Option<&str>,
        params: &Params,
    ) -> Result<IntrospectionResponse, OAuthError> {
        self.introspect_for(&self.client_call(authorization, params).await, params).await
    }
    pub async fn introspect_for(
        &self,
        call: &ClientCall,
        params: &Params,
    ) -> Result<IntrospectionResponse, OAuthError> {
        self.reader().introspect_for(call, params).await
    }
    pub async fn lookup(&self, token: &str) -> Result<Lookup, OAuthError> {
        self.reader().lookup(token).await
    }
    pub async fn inspect(&self, token: &str) -> Result<Inspection, OAuthError> {
        self.reader().inspect(token).await
    }
    pub async fn revoke(&self, authorization: Option<&str>, params: &Params) -> Result<(), OAuthError> {
        self.revoke_for(&self.client_call(authorization, params).await, params).await
    }
    pub async fn revoke_for(&self, call: &ClientCall, params: &Params) -> Result<(), OAuthError> {
        revoke::revoke(&self.reader(), self.store.as_ref(), call, params).await
    }
    pub async fn userinfo(&self, authorization: Option<&str>) -> Result<UserInfo, BearerError> {
        self.userinfo_with_dpop::<&[u8]>(Presentation { authorization, method: "GET", proofs: &[] }).await
    }
    /// UserInfo with the request's method and `DPoP` header values: a
    /// DPoP-bound token is accepted only with a proof of its key (RFC 9449 §7).
    pub async fn userinfo_with_dpop<V: AsRef<[u8]>>(
        &self,
        request: Presentation<'_, V>,
    ) -> Result<UserInfo, BearerError> {
        let now = self.clock.now();
        userinfo::userinfo(&self.reader(), self.store.as_ref(), &self.dpop, request, now).await
    }
    pub async fn metadata(&self) -> Result<AuthorizationServerMetadata, OAuthError> {
        discovery::metadata(&self.issuer, &self.clients, self.clock.as_ref()).await
    }
    pub async fn jwks(&self) -> Result<JwkSet, OAuthError> {
        discovery::jwks(&self.issuer, self.generation(), self.clock.as_ref()).await
    }

    // The browser flows: authorization, sign-in, device verification.

    pub async fn parse_authorization(&self, raw: &[u8]) -> Result<AuthorizationRequest, AuthorizeError> {
        self.authorize_parts().parse_authorization(raw).await
    }
    pub async fn authorize(
        &self,
        req: AuthorizationRequest,
        signed_in: Option<SignedIn>,
        ix: Interaction,
    ) -> Result<Step, AuthorizeError> {
        self.authorize_parts().authorize(req, signed_in, ix).await
    }
    pub async fn login(&self, username: &str, password: &str, ip: &str) -> Result<(Secret, SignedIn), LoginError> {
        self.sign_in.login(username, password, ip).await
    }
    pub async fn session(&self, cookie: &str) -> Result<Option<SignedIn>, OAuthError> {
        self.sign_in.session(cookie).await
    }
    pub async fn end_session(&self, cookie: &str) -> Result<(), OAuthError> {
        self.sign_in.end_session(cookie).await
    }
    pub async fn logout_target(
        &self,
        client_id: Option<&str>,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
    ) -> Result<Option<VerifiedRedirectUri>, OAuthError> {
        let (hint, uri) = (id_token_hint, post_logout_redirect_uri);
        session::logout_target(&self.issuer, &self.clients, self.clock.as_ref(), client_id, hint, uri).await
    }
    pub async fn device_authorization(
        &self,
        authorization: Option<&str>,
        params: &Params,
    ) -> Result<DeviceAuthorizationResponse, OAuthError> {
        self.device_authorization_for(&self.client_call(authorization, params).await, params).await
    }
    pub async fn device_authorization_for(
        &self,
        call: &ClientCall,
        params: &Params,
    ) -> Result<DeviceAuthorizationResponse, OAuthError> {
        self.device_flow().device_authorization_for(call, params).await
    }
    pub async fn device_lookup(&self, user_code: &str, who: &[String]) -> Result<DeviceRequest, DeviceLookupError> {
        self.device_flow().device_lookup(user_code, who).await
    }
    pub async fn device_decide(
        &self,
        user_code: &str,
        who: &SignedIn,
        approve: bool,
        keys: &[String],
    ) -> Result<(), DeviceLookupError> {
        self.device_flow().device_decide(user_code, who, approve, keys).await
    }

    // Operator actions: see [`Admin`].

    pub async fn set_user_disabled(&self, user: &User, disabled: bool) -> Result<u64, OAuthError> {
        self.admin().set_user_disabled(user, disabled).await
    }
    pub async fn delete_user(&self, user: &User) -> Result<u64, OAuthError> {
        self.admin().delete_user(user).await
    }
    pub async fn set_password(&self, user: &User, password_hash: String) -> Result<u64, OAuthError> {
        self.admin().set_password(user, password_hash).await
    }
    pub async fn revoke_grant_by_id(&self, id: &str) -> Result<Option<Grant>, OAuthError> {
        self.admin().revoke_grant_by_id(id).await
    }
}
