//! SQLite implementation of [`AccountStore`]. Reads go to the pool; writes
//! on the sign-in path (codes, sessions, consent) go through the writer task
//! as [`super::Msg::Exec`] jobs, so they share its group commit instead of
//! fighting it for SQLite's single write lock.

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};
use tessera_core::secret::Digest;
use tessera_core::store::{
    AccountStore, AuthCode, Consent, Grant, GrantFilter, Redemption, ScopeInfo, Session, StoreError, User,
};
use tokio::sync::oneshot;

use super::{Finisher, Msg, SqliteStore, map_err, unavailable};

type WriteFuture<'c> = Pin<Box<dyn Future<Output = Finisher> + Send + 'c>>;
/// A write job: runs its statements, then returns how to answer its caller.
pub(super) type WriteFn = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> WriteFuture<'c> + Send>;

/// Runs one job inside the batch's transaction. No savepoint per job (two
/// more statements each, on the path every write waits for): each job orders
/// its statements so that stopping after any of them leaves nothing a
/// caller was promised (a failed job answers with an error, and whatever it
/// did write is unreachable or spent).
pub(super) async fn run_exec(conn: &mut SqliteConnection, f: WriteFn) -> Finisher {
    f(conn).await
}

type BoxFut<'c, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>;

impl SqliteStore {
    /// Runs `f` inside the writer's next batch; answers after the commit.
    pub(super) async fn exec<T: Send + 'static>(
        &self,
        f: impl for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFut<'c, T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel::<Result<T, StoreError>>();
        let job: WriteFn = Box::new(move |conn: &mut SqliteConnection| {
            Box::pin(async move {
                let r = f(&mut *conn).await;
                Box::new(move |committed: Result<(), StoreError>| {
                    let _ = tx.send(committed.and(r));
                }) as Finisher
            }) as WriteFuture<'_>
        });
        self.writer.send(Msg::Exec(job)).await.map_err(|_| unavailable("writer stopped"))?;
        rx.await.map_err(|_| unavailable("writer stopped"))?
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn user_from(r: &SqliteRow) -> Result<User, StoreError> {
    Ok(User {
        id: r.try_get("id").map_err(corrupt)?,
        username: r.try_get("username").map_err(corrupt)?,
        email: r.try_get("email").map_err(corrupt)?,
        name: r.try_get("name").map_err(corrupt)?,
        password_hash: r.try_get("password_hash").map_err(corrupt)?,
        disabled: r.try_get::<i64, _>("disabled").map_err(corrupt)? != 0,
        created_at: r.try_get("created_at").map_err(corrupt)?,
        updated_at: r.try_get("updated_at").map_err(corrupt)?,
    })
}

fn digest_from(r: &SqliteRow, col: &str) -> Result<Digest, StoreError> {
    let b: Vec<u8> = r.try_get(col).map_err(corrupt)?;
    Digest::from_slice(&b).ok_or_else(|| corrupt("digest length"))
}

fn session_from(r: &SqliteRow) -> Result<Session, StoreError> {
    Ok(Session {
        id: r.try_get("id").map_err(corrupt)?,
        digest: digest_from(r, "digest")?,
        user_id: r.try_get("user_id").map_err(corrupt)?,
        auth_time: r.try_get("auth_time").map_err(corrupt)?,
        amr: r.try_get("amr").map_err(corrupt)?,
        created_at: r.try_get("created_at").map_err(corrupt)?,
        expires_at: r.try_get("expires_at").map_err(corrupt)?,
    })
}

fn code_from(r: &SqliteRow) -> Result<AuthCode, StoreError> {
    let aud: String = r.try_get("audience").map_err(corrupt)?;
    Ok(AuthCode {
        digest: digest_from(r, "digest")?,
        client_id: r.try_get("client_id").map_err(corrupt)?,
        user_id: r.try_get("user_id").map_err(corrupt)?,
        grant_id: r.try_get("grant_id").map_err(corrupt)?,
        redirect_uri: r.try_get("redirect_uri").map_err(corrupt)?,
        code_challenge: r.try_get("code_challenge").map_err(corrupt)?,
        scope: r.try_get("scope").map_err(corrupt)?,
        audience: serde_json::from_str(&aud).map_err(corrupt)?,
        nonce: r.try_get("nonce").map_err(corrupt)?,
        auth_time: r.try_get("auth_time").map_err(corrupt)?,
        amr: r.try_get("amr").map_err(corrupt)?,
        session_id: r.try_get("session_id").map_err(corrupt)?,
        created_at: r.try_get("created_at").map_err(corrupt)?,
        expires_at: r.try_get("expires_at").map_err(corrupt)?,
    })
}

fn grant_from(r: &SqliteRow) -> Result<Grant, StoreError> {
    Ok(Grant {
        id: r.try_get("id").map_err(corrupt)?,
        user_id: r.try_get("user_id").map_err(corrupt)?,
        client_id: r.try_get("client_id").map_err(corrupt)?,
        scope: r.try_get("scope").map_err(corrupt)?,
        session_id: r.try_get("session_id").map_err(corrupt)?,
        created_at: r.try_get("created_at").map_err(corrupt)?,
        expires_at: r.try_get("expires_at").map_err(corrupt)?,
    })
}

pub(super) async fn purge(pool: &SqlitePool, now: i64, batch: u32) -> Result<u64, StoreError> {
    let mut n = 0;
    for (sql, cutoff) in [
        (
            "DELETE FROM auth_codes WHERE digest IN (SELECT digest FROM auth_codes WHERE expires_at <= $1 LIMIT $2)",
            now - crate::columns::CODE_REPLAY_MEMORY,
        ),
        ("DELETE FROM sessions WHERE digest IN (SELECT digest FROM sessions WHERE expires_at <= $1 LIMIT $2)", now),
        ("DELETE FROM grants WHERE id IN (SELECT id FROM grants WHERE expires_at <= $1 LIMIT $2)", now),
    ] {
        n += sqlx::query(sql).bind(cutoff).bind(i64::from(batch)).execute(pool).await.map_err(map_err)?.rows_affected();
    }
    Ok(n)
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn insert_user(&self, u: &User) -> Result<(), StoreError> {
        sqlx::query(concat!("INSERT INTO users (", user_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(&u.id)
            .bind(&u.username)
            .bind(&u.email)
            .bind(&u.name)
            .bind(&u.password_hash)
            .bind(i64::from(u.disabled))
            .bind(u.created_at)
            .bind(u.updated_at)
            .execute(&self.pool)
            .await
            .map_err(map_err)
            .map(|_| ())
    }

    async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        // On the held connection, as the refresh token's own read: every
        // refresh checks its user (8 µs here against 27–59 µs from the pool).
        let r = sqlx::query(concat!("SELECT ", user_cols!(), " FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.hot.lock().await)
            .await
            .map_err(map_err)?;
        r.as_ref().map(user_from).transpose()
    }

    async fn find_user(&self, username: &str) -> Result<Option<User>, StoreError> {
        let r = sqlx::query(concat!("SELECT ", user_cols!(), " FROM users WHERE username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        r.as_ref().map(user_from).transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(concat!("SELECT ", user_cols!(), " FROM users ORDER BY username"))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter().map(user_from).collect()
    }

    async fn update_user(&self, u: &User) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE users SET email = $1, name = $2, password_hash = $3, disabled = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(&u.email)
        .bind(&u.name)
        .bind(&u.password_hash)
        .bind(i64::from(u.disabled))
        .bind(u.updated_at)
        .bind(&u.id)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(r.rows_affected() == 1)
    }

    async fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        for sql in [
            "DELETE FROM sessions WHERE user_id = $1",
            "DELETE FROM refresh_tokens WHERE user_id = $1",
            "DELETE FROM consents WHERE user_id = $1",
            "DELETE FROM auth_codes WHERE user_id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await.map_err(map_err)?;
        }
        let r = sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(r.rows_affected() == 1)
    }

    async fn insert_scope(&self, s: &ScopeInfo) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO scopes (name, description, created_at) VALUES ($1, $2, $3)")
            .bind(&s.name)
            .bind(&s.description)
            .bind(s.created_at)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        self.bump_generation()
    }

    async fn list_scopes(&self) -> Result<Vec<ScopeInfo>, StoreError> {
        let rows = sqlx::query("SELECT name, description, created_at FROM scopes ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(ScopeInfo {
                    name: r.try_get("name").map_err(corrupt)?,
                    description: r.try_get("description").map_err(corrupt)?,
                    created_at: r.try_get("created_at").map_err(corrupt)?,
                })
            })
            .collect()
    }

    async fn delete_scope(&self, name: &str) -> Result<bool, StoreError> {
        let r =
            sqlx::query("DELETE FROM scopes WHERE name = $1").bind(name).execute(&self.pool).await.map_err(map_err)?;
        self.bump_generation()?;
        Ok(r.rows_affected() == 1)
    }

    async fn insert_session(&self, s: &Session) -> Result<(), StoreError> {
        let s = s.clone();
        self.exec(move |conn| {
            Box::pin(async move {
                sqlx::query(concat!("INSERT INTO sessions (", session_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)"))
                    .bind(s.digest.0.to_vec())
                    .bind(&s.id)
                    .bind(&s.user_id)
                    .bind(s.auth_time)
                    .bind(&s.amr)
                    .bind(s.created_at)
                    .bind(s.expires_at)
                    .execute(&mut *conn)
                    .await
                    .map_err(map_err)
                    .map(|_| ())
            })
        })
        .await
    }

    async fn get_session(&self, digest: &Digest) -> Result<Option<Session>, StoreError> {
        let r = sqlx::query(concat!("SELECT ", session_cols!(), " FROM sessions WHERE digest = $1"))
            .bind(&digest.0[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        r.as_ref().map(session_from).transpose()
    }

    async fn delete_session(&self, digest: &Digest) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM sessions WHERE digest = $1")
            .bind(&digest.0[..])
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(r.rows_affected() == 1)
    }

    async fn list_sessions(&self, user_id: &str) -> Result<Vec<Session>, StoreError> {
        let rows =
            sqlx::query(concat!("SELECT ", session_cols!(), " FROM sessions WHERE user_id = $1 ORDER BY created_at"))
                .bind(user_id)
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?;
        rows.iter().map(session_from).collect()
    }

    async fn delete_user_sessions(&self, user_id: &str) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(r.rows_affected())
    }

    async fn put_consent(&self, c: &Consent) -> Result<(), StoreError> {
        let c = c.clone();
        self.exec(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
                )
                .bind(&c.user_id)
                .bind(&c.client_id)
                .bind(&c.scope)
                .bind(c.granted_at)
                .execute(&mut *conn)
                .await
                .map_err(map_err)
                .map(|_| ())
            })
        })
        .await
    }

    async fn get_consent(&self, user_id: &str, client_id: &str) -> Result<Option<Consent>, StoreError> {
        let r = sqlx::query("SELECT scope, granted_at FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        r.map(|r| {
            Ok(Consent {
                user_id: user_id.to_string(),
                client_id: client_id.to_string(),
                scope: r.try_get("scope").map_err(corrupt)?,
                granted_at: r.try_get("granted_at").map_err(corrupt)?,
            })
        })
        .transpose()
    }

    async fn insert_code(&self, c: &AuthCode) -> Result<(), StoreError> {
        let c = c.clone();
        let aud = serde_json::to_string(&c.audience).map_err(unavailable)?;
        self.exec(move |conn| {
            Box::pin(async move {
                sqlx::query(concat!(
                    "INSERT INTO auth_codes (",
                    code_cols!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
                ))
                .bind(c.digest.0.to_vec())
                .bind(&c.client_id)
                .bind(&c.user_id)
                .bind(&c.grant_id)
                .bind(&c.redirect_uri)
                .bind(&c.code_challenge)
                .bind(&c.scope)
                .bind(aud)
                .bind(&c.nonce)
                .bind(c.auth_time)
                .bind(&c.amr)
                .bind(&c.session_id)
                .bind(c.created_at)
                .bind(c.expires_at)
                .execute(&mut *conn)
                .await
                .map_err(map_err)
                .map(|_| ())
            })
        })
        .await
    }

    async fn redeem_code(
        &self,
        digest: &Digest,
        client_id: &str,
        now: i64,
        grant_expires_at: i64,
    ) -> Result<Redemption, StoreError> {
        let (digest, client_id) = (*digest, client_id.to_string());
        self.exec(move |conn| {
            Box::pin(async move {
                // One writer runs this whole closure between two other jobs:
                // the read and the update cannot interleave with another redemption.
                let row = sqlx::query(concat!("SELECT ", code_cols!(), ", used_at FROM auth_codes WHERE digest = $1"))
                    .bind(&digest.0[..])
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(map_err)?;
                let Some(row) = row else { return Ok(Redemption::Unknown) };
                let code = code_from(&row)?;
                let used: Option<i64> = row.try_get("used_at").map_err(corrupt)?;
                if used.is_some() {
                    return Ok(Redemption::Replayed(code));
                }
                if code.client_id != client_id {
                    return Ok(Redemption::WrongClient);
                }
                if now >= code.expires_at {
                    return Ok(Redemption::Unknown);
                }
                let done = sqlx::query("UPDATE auth_codes SET used_at = $1 WHERE digest = $2 AND used_at IS NULL")
                    .bind(now)
                    .bind(&digest.0[..])
                    .execute(&mut *conn)
                    .await
                    .map_err(map_err)?;
                if done.rows_affected() != 1 {
                    return Ok(Redemption::Replayed(code));
                }
                sqlx::query(concat!("INSERT INTO grants (", grant_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)"))
                    .bind(&code.grant_id)
                    .bind(&code.user_id)
                    .bind(&code.client_id)
                    .bind(&code.scope)
                    .bind(&code.session_id)
                    .bind(now)
                    .bind(grant_expires_at)
                    .execute(&mut *conn)
                    .await
                    .map_err(map_err)?;
                Ok(Redemption::Redeemed(code))
            })
        })
        .await
    }

    async fn insert_grant(&self, g: &Grant) -> Result<(), StoreError> {
        let g = g.clone();
        self.exec(move |conn| {
            Box::pin(async move {
                sqlx::query(concat!("INSERT INTO grants (", grant_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)"))
                    .bind(&g.id)
                    .bind(&g.user_id)
                    .bind(&g.client_id)
                    .bind(&g.scope)
                    .bind(&g.session_id)
                    .bind(g.created_at)
                    .bind(g.expires_at)
                    .execute(&mut *conn)
                    .await
                    .map_err(map_err)
                    .map(|_| ())
            })
        })
        .await
    }

    async fn get_grant(&self, id: &str) -> Result<Option<Grant>, StoreError> {
        let r = sqlx::query(concat!("SELECT ", grant_cols!(), " FROM grants WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        r.as_ref().map(grant_from).transpose()
    }

    async fn list_grants(&self, f: &GrantFilter) -> Result<Vec<Grant>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            grant_cols!(),
            " FROM grants WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR client_id = $2) ORDER BY created_at, id"
        ))
        .bind(&f.user_id)
        .bind(&f.client_id)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(grant_from).collect()
    }
}
