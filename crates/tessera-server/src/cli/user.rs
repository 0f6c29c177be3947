//! `tessera user …`, `tessera scope …` and `tessera grant …`: the people who
//! sign in, the scopes they are asked about, and what they have allowed.
//! Passwords are read from standard input only, never from arguments (which
//! other users of the machine can see in the process list).

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::{Value, json};
use tessera_core::Authority;
use tessera_core::ids::{ClientId, UserId};
use tessera_core::store::{GrantFilter, ScopeInfo, StoreError, User};
use tessera_core::user::{NewUser, normalize_username};

use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a user; the password is read from standard input.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Full name, shown to applications with the `profile` scope.
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long)]
        json: bool,
    },
    /// List users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one user (by username or id).
    Show {
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: ends their sessions and revokes their grants at once.
    Disable { user: String },
    /// Enable a disabled user.
    Enable { user: String },
    /// Delete a user, revoking their grants and ending their sessions.
    Delete { user: String },
    /// Set a new password (from standard input); ends the user's sessions
    /// and revokes their grants (every access and refresh token).
    SetPassword {
        user: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List a user's browser sessions.
    Sessions {
        user: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScopeCmd {
    /// Register a scope with the sentence the consent page shows for it.
    Create {
        name: String,
        #[arg(long)]
        description: String,
    },
    /// List the built-in and registered scopes.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a registered scope.
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
pub enum GrantCmd {
    /// List live grants (what users allowed which clients).
    List {
        /// Only this user's (username or id).
        #[arg(long)]
        user: Option<String>,
        /// Only this client's.
        #[arg(long)]
        client: Option<ClientId>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a grant: every token issued under it stops working at once.
    Revoke { id: String },
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    let pw = line.trim_end_matches(['\n', '\r']).to_string();
    if pw.is_empty() {
        bail!("no password on standard input");
    }
    Ok(pw)
}

async fn find(a: &Authority, u: &str) -> anyhow::Result<User> {
    if let Some(user) = a.store().find_user(&normalize_username(u)).await? {
        return Ok(user);
    }
    a.store().get_user(&UserId::from(u)).await?.ok_or_else(|| anyhow::anyhow!("no user {u:?}"))
}

fn user_json(u: &User) -> Value {
    json!({
        "id": u.id, "username": u.username, "email": u.email, "name": u.name,
        "disabled": u.disabled, "created_at": u.created_at, "updated_at": u.updated_at,
    })
}

fn err(e: tessera_core::OAuthError) -> anyhow::Error {
    anyhow::anyhow!("{}", e.description)
}

pub async fn run_user(cfg: &Config, cmd: UserCmd) -> anyhow::Result<()> {
    let (_, a) = crate::data::open(cfg).await?;
    let now = a.now();
    match cmd {
        UserCmd::Create { username, email, name, password_stdin: _, json } => {
            let pw = read_password()?;
            let user = NewUser { username, email, name }
                .build(a.passwords(), a.rng(), &pw, now)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            match a.store().insert_user(&user).await {
                Err(StoreError::Conflict) => bail!("a user named {:?} already exists", user.username),
                r => r?,
            }
            if json {
                println!("{}", user_json(&user));
            } else {
                println!("created user {} ({})", user.username, user.id);
            }
        }
        UserCmd::List { json } => {
            let users = a.store().list_users().await?;
            if json {
                println!("{}", Value::Array(users.iter().map(user_json).collect()));
            } else if users.is_empty() {
                println!("no users");
            } else {
                println!("{:<38} {:<24} {:<9} EMAIL", "ID", "USERNAME", "STATUS");
                for u in users {
                    let status = if u.disabled { "disabled" } else { "active" };
                    println!("{:<38} {:<24} {:<9} {}", u.id, u.username, status, u.email);
                }
            }
        }
        UserCmd::Show { user, json } => {
            let u = find(&a, &user).await?;
            if json {
                println!("{}", user_json(&u));
            } else {
                println!("id:        {}\nusername:  {}\nemail:     {}", u.id, u.username, u.email);
                if let Some(n) = &u.name {
                    println!("name:      {n}");
                }
                println!("status:    {}", if u.disabled { "disabled" } else { "active" });
            }
        }
        UserCmd::Disable { user } => {
            let u = find(&a, &user).await?;
            let n = a.set_user_disabled(&u, true).await.map_err(err)?;
            println!("disabled {}: sessions ended, {n} grant(s) revoked", u.username);
        }
        UserCmd::Enable { user } => {
            let u = find(&a, &user).await?;
            a.set_user_disabled(&u, false).await.map_err(err)?;
            println!("enabled {}", u.username);
        }
        UserCmd::Delete { user } => {
            let u = find(&a, &user).await?;
            let n = a.delete_user(&u).await.map_err(err)?;
            println!("deleted {}: {n} grant(s) revoked", u.username);
        }
        UserCmd::SetPassword { user, password_stdin: _ } => {
            let u = find(&a, &user).await?;
            let pw = read_password()?;
            tessera_core::password::check_policy(&pw).map_err(|e| anyhow::anyhow!("{e}"))?;
            let hash = a.passwords().hash(a.rng(), &pw).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let grants = a.set_password(&u, hash).await.map_err(err)?;
            println!("password changed for {}; their sessions were ended and {grants} grant(s) revoked", u.username);
        }
        UserCmd::Sessions { user, json } => {
            let u = find(&a, &user).await?;
            let sessions: Vec<_> =
                a.store().list_sessions(&u.id).await?.into_iter().filter(|s| s.expires_at > now).collect();
            if json {
                let v: Vec<Value> = sessions
                    .iter()
                    .map(|s| json!({"id": s.id, "auth_time": s.auth_time, "amr": s.amr.to_string(), "expires_at": s.expires_at}))
                    .collect();
                println!("{}", Value::Array(v));
            } else if sessions.is_empty() {
                println!("no sessions");
            } else {
                println!("{:<34} {:<12} {:<12} AMR", "SESSION", "AUTH_TIME", "EXPIRES_AT");
                for s in sessions {
                    println!("{:<34} {:<12} {:<12} {}", s.id, s.auth_time, s.expires_at, s.amr);
                }
            }
        }
    }
    Ok(())
}

pub async fn run_scope(cfg: &Config, cmd: ScopeCmd) -> anyhow::Result<()> {
    let (_, a) = crate::data::open(cfg).await?;
    let builtin = tessera_core::endpoint::authorize::BUILTIN_SCOPES;
    match cmd {
        ScopeCmd::Create { name, description } => {
            let parsed = tessera_core::scope::ScopeSet::parse(&name).map_err(err)?;
            if parsed.iter().count() != 1 {
                bail!("a scope name is one token without spaces");
            }
            if builtin.iter().any(|(n, _)| *n == name) {
                bail!("{name:?} is a built-in OpenID Connect scope");
            }
            let description = description.trim().to_string();
            if description.is_empty() || description.len() > 200 {
                bail!("the description must be 1 to 200 characters");
            }
            let s = ScopeInfo { name: name.clone(), description, created_at: a.now() };
            match a.store().insert_scope(&s).await {
                Err(StoreError::Conflict) => bail!("scope {name:?} already exists"),
                r => r?,
            }
            println!("created scope {name}");
        }
        ScopeCmd::List { json } => {
            let mut rows: Vec<(String, String, bool)> =
                builtin.iter().map(|(n, d)| (n.to_string(), d.to_string(), true)).collect();
            rows.extend(a.store().list_scopes().await?.into_iter().map(|s| (s.name, s.description, false)));
            if json {
                let v: Vec<Value> =
                    rows.iter().map(|(n, d, b)| json!({"name": n, "description": d, "builtin": b})).collect();
                println!("{}", Value::Array(v));
            } else {
                for (n, d, b) in rows {
                    println!("{:<24} {}{}", n, d, if b { " (built-in)" } else { "" });
                }
            }
        }
        ScopeCmd::Delete { name } => {
            if !a.store().delete_scope(&name).await? {
                bail!("no registered scope {name:?}");
            }
            println!("deleted scope {name}");
        }
    }
    Ok(())
}

pub async fn run_grant(cfg: &Config, cmd: GrantCmd) -> anyhow::Result<()> {
    let (_, a) = crate::data::open(cfg).await?;
    match cmd {
        GrantCmd::List { user, client, json } => {
            let user_id = match user {
                Some(u) => Some(find(&a, &u).await?.id),
                None => None,
            };
            let now = a.now();
            let grants: Vec<_> = a
                .store()
                .list_grants(&GrantFilter { user_id, client_id: client })
                .await?
                .into_iter()
                .filter(|g| g.expires_at > now)
                .collect();
            if json {
                let v: Vec<Value> = grants
                    .iter()
                    .map(|g| {
                        json!({"id": g.id, "user_id": g.user_id, "client_id": g.client_id, "scope": g.scope,
                               "created_at": g.created_at, "expires_at": g.expires_at})
                    })
                    .collect();
                println!("{}", Value::Array(v));
            } else if grants.is_empty() {
                println!("no grants");
            } else {
                println!("{:<34} {:<38} {:<38} SCOPE", "GRANT", "USER", "CLIENT");
                for g in grants {
                    println!("{:<34} {:<38} {:<38} {}", g.id, g.user_id, g.client_id, g.scope);
                }
            }
        }
        GrantCmd::Revoke { id } => match a.revoke_grant_by_id(&id).await.map_err(err)? {
            Some(g) => println!("revoked grant {} of client {}: its tokens stop working now", g.id, g.client_id),
            None => bail!("no grant {id:?}"),
        },
    }
    Ok(())
}
