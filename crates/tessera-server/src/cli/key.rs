//! `tessera key list|rotate|revoke`: the signing keys in the data directory.

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use crate::config::{Config, parse_duration};

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// List signing keys with their status: next, active, previous, retired.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a key of the configured algorithm. It is published in the JWKS at
    /// once and signs from --activate-in on, so APIs that cache the JWKS
    /// learn it first; the previous key stays published for 24 hours after.
    Rotate {
        /// Delay before the new key signs [default: 2m, twice the JWKS cache lifetime].
        #[arg(long, default_value = "2m")]
        activate_in: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a compromised key: it leaves the JWKS at once, every token it
    /// signed is inactive, and resource servers following the revocation
    /// feed refuse it. If it was signing, a new key of its algorithm signs
    /// from now on.
    Revoke {
        /// Key ids are base64url: one may start with `-`.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cfg: &Config, cmd: KeyCmd) -> anyhow::Result<()> {
    let (_, authority) = crate::data::open(cfg).await?;
    let err = |e: tessera_core::OAuthError| match e.detail() {
        Some(detail) => anyhow::anyhow!("{detail}"),
        None => anyhow::anyhow!("{}", e.description),
    };
    match cmd {
        KeyCmd::List { json } => {
            let keys = authority.keys().await.map_err(err)?;
            let now = authority.now();
            let rows: Vec<_> = keys.describe(now);
            if json {
                let v: Vec<_> = rows
                    .iter()
                    .map(|(k, s)| {
                        json!({
                            "kid": k.kid(),
                            "alg": k.alg().as_str(),
                            "status": s.as_str(),
                            "activates_at": k.activates_at(),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                println!("{:<44} {:<6} {:<9} ACTIVATES_AT", "KID", "ALG", "STATUS");
                for (k, s) in rows {
                    println!("{:<44} {:<6} {:<9} {}", k.kid(), k.alg().as_str(), s.as_str(), k.activates_at());
                }
            }
        }
        KeyCmd::Rotate { activate_in, json } => {
            let secs = parse_duration(&activate_in).context("--activate-in")?;
            let secs = i64::try_from(secs).context("--activate-in is too large")?;
            let kids = authority.rotate_key(secs).await.map_err(err)?;
            if json {
                let kid = kids.first().cloned().unwrap_or_default();
                println!("{}", json!({"kid": kid, "kids": kids, "activates_at": authority.now() + secs}));
            } else {
                for kid in kids {
                    println!("new key {kid}: published now, signs in {secs}s");
                }
            }
        }
        KeyCmd::Revoke { kid, json } => {
            let Some(replacement) = authority.revoke_key(&kid).await.map_err(err)? else {
                anyhow::bail!("no signing key {kid:?} (see `tessera key list`)");
            };
            if json {
                println!("{}", json!({"kid": kid, "revoked": true, "replaced_by": replacement}));
            } else {
                println!("revoked key {kid}: out of the JWKS, every token it signed is inactive");
                if let Some(new) = replacement {
                    println!("new key {new}: published and signing now");
                }
            }
        }
    }
    Ok(())
}
