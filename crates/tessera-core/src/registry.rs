//! [`ClientRegistry`]: the registered clients (RFC 6749 §2) as of the
//! store's configuration generation, from memory unless a client, key or
//! scope changed; reading a request's client credentials once
//! ([`ClientCall`], RFC 6749 §2.3.1); and the configuration as a whole that
//! unauthenticated endpoints need ([`ConfigView`]: CORS origins, discovery,
//! the consent page's scope sentences).

use std::sync::Arc;

use crate::cache::{ClientCache, ConfigCache, ConfigView};
use crate::client::Client;
use crate::client_auth::{self, ClientCall};
use crate::error::OAuthError;
use crate::params::Params;
use crate::scope::ScopeSet;
use crate::scope::{BUILTIN_SCOPES, ScopeLine};
use crate::store::Store;

pub struct ClientRegistry {
    store: Arc<dyn Store>,
    clients: ClientCache,
    config: ConfigCache,
}

impl std::fmt::Debug for ClientRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRegistry").finish_non_exhaustive()
    }
}

impl ClientRegistry {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store, clients: ClientCache::default(), config: ConfigCache::default() }
    }

    /// The store's configuration generation: read once per request and
    /// passed to [`Self::client_at`] and the key set, so a request sees one
    /// consistent view at the cost of one check.
    pub fn generation(&self) -> u64 {
        self.store.config_generation()
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

    /// The registered scopes' descriptions, built-in ones first.
    pub async fn describe_scopes(&self, scope: &ScopeSet) -> Result<Vec<ScopeLine>, OAuthError> {
        let view = self.config_view().await?;
        let registry = &view.scopes;
        Ok(scope
            .iter()
            .map(|name| {
                let description = BUILTIN_SCOPES
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, d)| d.to_string())
                    .or_else(|| registry.iter().find(|s| s.name == name).map(|s| s.description.clone()))
                    .unwrap_or_else(|| format!("Use the \"{name}\" permission"));
                ScopeLine { name: name.to_string(), description }
            })
            .collect())
    }
}
