//! `tessera token mint|inspect`: issue a token as a client, or explain one,
//! straight against the data directory.

use anyhow::{Context, bail};
use clap::Subcommand;
use tessera_core::scope::ScopeSet;

use crate::config::{Config, parse_duration};

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Issue an access token as CLIENT; prints the token alone on stdout.
    Mint {
        #[arg(long)]
        client: String,
        /// Scopes (a subset of the client's) [default: all of the client's].
        #[arg(long)]
        scope: Option<String>,
        /// Audience (repeatable; each registered for the client).
        #[arg(long = "audience")]
        audiences: Vec<String>,
        /// Lifetime, e.g. 5m [default: the client's access-token lifetime].
        #[arg(long)]
        ttl: Option<String>,
    },
    /// Verify a JWT or look up an opaque token; prints its claims, whether it
    /// is valid, and why not. Exit code 0 if valid, 1 if not.
    Inspect { token: String },
}

pub async fn run(cfg: &Config, cmd: TokenCmd) -> anyhow::Result<()> {
    let (_, authority) = crate::data::open(cfg).await?;
    match cmd {
        TokenCmd::Mint { client, scope, audiences, ttl } => {
            let c = authority
                .client(&client)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.description))?
                .ok_or_else(|| anyhow::anyhow!("no client with id {client:?}"))?;
            let allowed = c.scope();
            let scope = match scope {
                None => allowed.clone(),
                Some(s) => {
                    let s = ScopeSet::parse(&s).map_err(|e| anyhow::anyhow!("{}", e.description))?;
                    if !s.is_subset_of(allowed) {
                        bail!("scope not allowed for this client: {}", s.not_in(allowed).join(" "));
                    }
                    s
                }
            };
            let ttl = match ttl {
                Some(t) => parse_duration(&t).context("--ttl")?,
                None => c.settings.access_token_ttl,
            };
            if ttl == 0 || ttl > tessera_core::client::MAX_ACCESS_TOKEN_TTL {
                bail!("--ttl must be between 1s and 24h");
            }
            let audience = authority.audience_for(&c, &audiences).map_err(|e| anyhow::anyhow!("{}", e.description))?;
            let issued = authority
                .issue_access_token(authority.generation(), &c, c.id.to_string(), scope, audience, ttl)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.description))?;
            println!("{}", issued.token.expose());
        }
        TokenCmd::Inspect { token } => {
            let i = authority.inspect(token.trim()).await.map_err(|e| anyhow::anyhow!("{}", e.description))?;
            println!("{}", serde_json::to_string_pretty(&i)?);
            if !i.valid {
                bail!("token is not valid: {}", i.reason.unwrap_or_default());
            }
        }
    }
    Ok(())
}
