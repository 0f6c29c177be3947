//! `tessera client …`: register and manage clients in the data directory.
//! A running server sees each change before the command returns (the store
//! moves its config generation, which the server checks on every request).

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::{Value, json};
use tessera_core::client::{Client, NewClient, RateLimit, TokenBinding, TokenFormat};
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::ids::ClientId;
use tessera_core::random::SystemRandom;
use tessera_core::secret::{CLIENT_SECRET_PREFIX, Secret};
use tessera_core::store::{Store, StoreError};

use crate::config::{Config, Rate, parse_duration};

// Parsed once per process: the size of one variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ClientCmd {
    /// Register a client; prints its secret once.
    Create {
        /// A human-readable name.
        #[arg(long)]
        name: String,
        /// Choose the client id yourself [default: a random UUID].
        #[arg(long)]
        id: Option<String>,
        /// A grant the client may use (repeatable): client_credentials, authorization_code.
        #[arg(long = "grant-type", required = true)]
        grant_types: Vec<String>,
        /// An exact redirect URI for authorization_code (repeatable): https, http on
        /// loopback, or a private-use scheme like com.example.app:/cb.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Where RP-initiated logout may return the browser (repeatable).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// A browser origin (SPA) allowed to call the token endpoint (repeatable).
        #[arg(long = "allowed-origin")]
        allowed_origins: Vec<String>,
        /// A public client: no secret (token_endpoint_auth_method=none), PKCE only.
        #[arg(long)]
        public: bool,
        /// ID token algorithm: RS256 (default), ES256 or EdDSA.
        #[arg(long, value_parser = ["RS256", "ES256", "EdDSA"])]
        id_token_alg: Option<String>,
        /// Refresh tokens expire unused after this long [default: 14d].
        #[arg(long)]
        refresh_idle_ttl: Option<String>,
        /// A refresh family ends this long after sign-in, used or not [default: 30d].
        #[arg(long)]
        refresh_absolute_ttl: Option<String>,
        /// A repeated refresh within this window gets the same new pair; 0 disables [default: 10s].
        #[arg(long)]
        refresh_grace: Option<String>,
        /// DEPRECATED (removed by OAuth 2.1): also allow the implicit grant,
        /// `response_type=token`, for a legacy app that cannot do the code flow.
        #[arg(long)]
        allow_implicit: bool,
        /// Space-separated scopes the client may ask for.
        #[arg(long, default_value = "")]
        scope: String,
        /// A resource URI the client may get tokens for (repeatable).
        #[arg(long = "audience")]
        audiences: Vec<String>,
        /// Access-token format: jwt or opaque.
        #[arg(long, default_value = "jwt", value_parser = ["jwt", "opaque"])]
        token_format: String,
        /// Access-token binding: bearer, or dpop (every token request must
        /// carry a DPoP proof and every token is bound to its key).
        #[arg(long, default_value = "bearer", value_parser = ["bearer", "dpop"])]
        token_binding: String,
        /// Access-token lifetime, e.g. 15m, 1h [default: 15m].
        #[arg(long)]
        access_token_ttl: Option<String>,
        /// Let this client (a resource server) introspect every client's tokens.
        #[arg(long)]
        introspection: bool,
        /// Token requests this client may make per node, e.g. 100/s or 600/m [default: no limit].
        #[arg(long, value_name = "RATE")]
        rate_limit: Option<String>,
        /// Print one JSON object (RFC 7591 field names).
        #[arg(long)]
        json: bool,
    },
    /// Change a client's settings; running servers apply the change at once.
    Update {
        id: ClientId,
        /// Token requests this client may make per node, e.g. 100/s or 600/m; 0 or off removes the limit.
        #[arg(long, value_name = "RATE")]
        rate_limit: Option<String>,
        /// Access-token binding: bearer or dpop.
        #[arg(long, value_parser = ["bearer", "dpop"])]
        token_binding: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Show {
        id: ClientId,
        #[arg(long)]
        json: bool,
    },
    /// Replace the secret; the old one stops working at once.
    RotateSecret {
        id: ClientId,
        #[arg(long)]
        json: bool,
    },
    /// Delete a client; its tokens stop being accepted at once.
    Delete { id: ClientId },
}

pub async fn run(cfg: &Config, cmd: ClientCmd) -> anyhow::Result<()> {
    let (store, _) = crate::data::open(cfg).await?;
    let store: &dyn Store = store.as_ref();
    let rng = SystemRandom::new().map_err(|_| anyhow::anyhow!("the OS random source failed"))?;
    let now = SystemClock.now();
    match cmd {
        ClientCmd::Create {
            name,
            id,
            grant_types,
            redirect_uris,
            post_logout_redirect_uris,
            allowed_origins,
            public,
            id_token_alg,
            refresh_idle_ttl,
            refresh_absolute_ttl,
            refresh_grace,
            allow_implicit,
            scope,
            audiences,
            token_format,
            token_binding,
            access_token_ttl,
            introspection,
            rate_limit,
            json,
        } => {
            let rate_limit = parse_rate(rate_limit.as_deref())?.flatten();
            let ttl = access_token_ttl.as_deref().map(parse_duration).transpose().context("--access-token-ttl")?;
            let new = NewClient {
                id,
                name,
                grant_types,
                scope,
                audiences,
                token_format: if token_format == "opaque" { TokenFormat::Opaque } else { TokenFormat::Jwt },
                token_binding: binding(&token_binding)?,
                access_token_ttl: ttl,
                introspection,
                redirect_uris,
                post_logout_redirect_uris,
                allowed_origins,
                public,
                id_token_alg,
                refresh_idle_ttl: refresh_idle_ttl
                    .as_deref()
                    .map(parse_duration)
                    .transpose()
                    .context("--refresh-idle-ttl")?,
                refresh_absolute_ttl: refresh_absolute_ttl
                    .as_deref()
                    .map(parse_duration)
                    .transpose()
                    .context("--refresh-absolute-ttl")?,
                refresh_grace: refresh_grace.as_deref().map(parse_duration).transpose().context("--refresh-grace")?,
                allow_implicit,
                rate_limit,
            };
            if allow_implicit {
                eprintln!(
                    "warning: the implicit grant is deprecated (OAuth 2.1 removes it); prefer the code flow with PKCE"
                );
            }
            let (client, secret) = new.build(&rng, now).map_err(|e| anyhow::anyhow!("{}", e.description))?;
            match store.insert_client(&client).await {
                Err(StoreError::Conflict) => {
                    bail!("a client with id {:?} already exists", client.id)
                }
                r => r?,
            }
            print(&client, secret.as_ref(), json);
        }
        ClientCmd::List { json } => {
            let clients = store.list_clients().await?;
            if json {
                let v: Vec<Value> = clients.iter().map(|c| to_json(c, None)).collect();
                println!("{}", Value::Array(v));
            } else if clients.is_empty() {
                println!("no clients");
            } else {
                println!("{:<38} {:<24} {:<7} SCOPE", "CLIENT_ID", "NAME", "FORMAT");
                for c in clients {
                    println!(
                        "{:<38} {:<24} {:<7} {}",
                        c.id,
                        c.name,
                        c.settings.token_format.as_str(),
                        c.settings.scope
                    );
                }
            }
        }
        ClientCmd::Show { id, json } => print(&get(store, &id).await?, None, json),
        ClientCmd::RotateSecret { id, json } => {
            if get(store, &id).await?.is_public() {
                bail!("client {id:?} is public: it has no secret to rotate");
            }
            let secret = Secret::generate(&rng, CLIENT_SECRET_PREFIX);
            if !store.set_client_secret(&id, secret.digest(), now).await? {
                bail!("no client with id {id:?}");
            }
            print(&get(store, &id).await?, Some(&secret), json);
        }
        ClientCmd::Update { id, rate_limit, token_binding, json } => {
            let mut settings = get(store, &id).await?.settings;
            let rate_limit = parse_rate(rate_limit.as_deref())?;
            if rate_limit.is_none() && token_binding.is_none() {
                bail!("nothing to change: give --rate-limit or --token-binding");
            }
            if let Some(r) = rate_limit {
                settings.rate_limit = r;
            }
            if let Some(b) = &token_binding {
                settings.token_binding = binding(b)?;
            }
            if !store.set_client_settings(&id, &settings, now).await? {
                bail!("no client with id {id:?}");
            }
            print(&get(store, &id).await?, None, json);
        }
        ClientCmd::Delete { id } => {
            get(store, &id).await?;
            // Recorded first: should the delete not happen, the client's
            // tokens are dead anyway, which is the safe half.
            store.revoke(&tessera_core::endpoint::revocation_feed::client_deleted(&id, now)).await?;
            if !store.delete_client(&id).await? {
                bail!("no client with id {id:?}");
            }
            println!("deleted client {id}");
        }
    }
    Ok(())
}

/// `--rate-limit`: `None` if not given, `Some(None)` for `0` or `off`.
fn parse_rate(s: Option<&str>) -> anyhow::Result<Option<Option<RateLimit>>> {
    s.map(|s| Rate::parse(s).map(|r| r.map(Rate::to_client)).context("--rate-limit")).transpose()
}

fn binding(s: &str) -> anyhow::Result<TokenBinding> {
    TokenBinding::parse(s).with_context(|| format!("--token-binding {s:?} is not bearer or dpop"))
}

async fn get(store: &dyn Store, id: &ClientId) -> anyhow::Result<Client> {
    store.get_client(id).await?.ok_or_else(|| anyhow::anyhow!("no client with id {id:?}"))
}

/// RFC 7591 §3.2.1 field names; Tessera's own settings beside them.
fn to_json(c: &Client, secret: Option<&Secret>) -> Value {
    let mut v = json!({
        "client_id": c.id,
        "client_name": c.name,
        "client_id_issued_at": c.created_at,
        "grant_types": c.settings.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "scope": c.settings.scope,
        "token_endpoint_auth_method": c.auth_method(),
        "redirect_uris": c.settings.redirect_uris,
        "post_logout_redirect_uris": c.settings.post_logout_redirect_uris,
        "allowed_origins": c.settings.allowed_origins,
        "id_token_signed_response_alg": c.id_token_alg().as_str(),
        "refresh_idle_ttl": c.refresh_idle_ttl(),
        "refresh_absolute_ttl": c.refresh_absolute_ttl(),
        "refresh_grace": c.refresh_grace(),
        "allow_implicit": c.settings.allow_implicit,
        "audience": c.settings.audiences,
        "access_token_format": c.settings.token_format.as_str(),
        "token_binding": c.settings.token_binding.as_str(),
        // RFC 9449 §5.2.
        "dpop_bound_access_tokens": c.settings.token_binding == TokenBinding::Dpop,
        "access_token_ttl": c.settings.access_token_ttl,
        "introspection": c.settings.introspection,
        "rate_limit": c.settings.rate_limit.and_then(Rate::from_client).map(|r| r.to_string()),
    });
    if let (Some(s), Some(o)) = (secret, v.as_object_mut()) {
        o.insert("client_secret".into(), Value::String(s.expose().to_string()));
        o.insert("client_secret_expires_at".into(), Value::from(0));
    }
    v
}

fn print(c: &Client, secret: Option<&Secret>, json: bool) {
    if json {
        println!("{}", to_json(c, secret));
        return;
    }
    println!("client_id:         {}", c.id);
    if let Some(s) = secret {
        println!("client_secret:     {}", s.expose());
        println!("                   (shown once: only its digest is stored)");
    }
    println!("name:              {}", c.name);
    println!("grant_types:       {}", c.settings.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(" "));
    println!("scope:             {}", c.settings.scope);
    println!("auth method:       {}", c.auth_method());
    for u in &c.settings.redirect_uris {
        println!("redirect uri:      {u}");
    }
    for u in &c.settings.post_logout_redirect_uris {
        println!("post-logout uri:   {u}");
    }
    for o in &c.settings.allowed_origins {
        println!("allowed origin:    {o}");
    }
    if !c.settings.audiences.is_empty() {
        println!("audience:          {}", c.settings.audiences.join(" "));
    }
    println!("token format:      {}", c.settings.token_format.as_str());
    println!("token binding:     {}", c.settings.token_binding.as_str());
    println!("access token ttl:  {}s", c.settings.access_token_ttl);
    if c.settings.introspection {
        println!("introspection:     may introspect every client's tokens");
    }
    if let Some(r) = c.settings.rate_limit.and_then(Rate::from_client) {
        println!("rate limit:        {r} token requests per node");
    }
}
