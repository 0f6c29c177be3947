//! PostgreSQL implementation of [`AccountStore`]. Plain statements on the
//! pool, except where several rows must change together; a code redemption
//! is one statement (a conditional `UPDATE … RETURNING` and the grant's
//! insert), so of concurrent redemptions on any number of nodes exactly one
//! finds the code unused.

use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use tessera_core::secret::Digest;
use tessera_core::store::{
    AccountStore, AuthCode, Consent, Grant, GrantFilter, Redemption, ScopeInfo, Session, StoreError, User,
};

use super::{PgStore, col, digest_col, list_col, map_err, purge_one, unavailable};

fn user_from(r: &PgRow) -> Result<User, StoreError> {
    Ok(User {
        id: col(r, "id")?,
        username: col(r, "username")?,
        email: col(r, "email")?,
        name: col(r, "name")?,
        password_hash: col(r, "password_hash")?,
        disabled: col(r, "disabled")?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
    })
}

fn session_from(r: &PgRow) -> Result<Session, StoreError> {
    Ok(Session {
        id: col(r, "id")?,
        digest: digest_col(r, "digest")?,
        user_id: col(r, "user_id")?,
        auth_time: col(r, "auth_time")?,
        amr: col(r, "amr")?,
        created_at: col(r, "created_at")?,
        expires_at: col(r, "expires_at")?,
    })
}

fn code_from(r: &PgRow) -> Result<AuthCode, StoreError> {
    Ok(AuthCode {
        digest: digest_col(r, "digest")?,
        client_id: col(r, "client_id")?,
        user_id: col(r, "user_id")?,
        grant_id: col(r, "grant_id")?,
        redirect_uri: col(r, "redirect_uri")?,
        code_challenge: col(r, "code_challenge")?,
        scope: col(r, "scope")?,
        audience: list_col(r, "audience")?,
        nonce: col(r, "nonce")?,
        auth_time: col(r, "auth_time")?,
        amr: col(r, "amr")?,
        session_id: col(r, "session_id")?,
        created_at: col(r, "created_at")?,
        expires_at: col(r, "expires_at")?,
    })
}

fn grant_from(r: &PgRow) -> Result<Grant, StoreError> {
    Ok(Grant {
        id: col(r, "id")?,
        user_id: col(r, "user_id")?,
        client_id: col(r, "client_id")?,
        scope: col(r, "scope")?,
        session_id: col(r, "session_id")?,
        created_at: col(r, "created_at")?,
        expires_at: col(r, "expires_at")?,
    })
}

/// Inside the purge's transaction; see [`super::PgStore::purge_expired`].
pub(super) async fn purge(conn: &mut PgConnection, now: i64, batch: i64) -> Result<u64, StoreError> {
    let mut n = 0;
    for (sql, cutoff) in [
        (
            "DELETE FROM auth_codes WHERE digest IN \
             (SELECT digest FROM auth_codes WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
            now - crate::columns::CODE_REPLAY_MEMORY,
        ),
        (
            "DELETE FROM sessions WHERE digest IN \
             (SELECT digest FROM sessions WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
            now,
        ),
        (
            "DELETE FROM grants WHERE id IN \
             (SELECT id FROM grants WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
            now,
        ),
    ] {
        n += purge_one(conn, sql, cutoff, batch).await?;
    }
    Ok(n)
}

/// How many times a redemption is tried when its outcome is ambiguous (a
/// code appearing between its two statements).
const REDEEM_ATTEMPTS: usize = 3;

#[async_trait]
impl AccountStore for PgStore {
    async fn insert_user(&self, u: &User) -> Result<(), StoreError> {
        sqlx::query(concat!("INSERT INTO users (", user_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(&u.id)
            .bind(&u.username)
            .bind(&u.email)
            .bind(&u.name)
            .bind(&u.password_hash)
            .bind(u.disabled)
            .bind(u.created_at)
            .bind(u.updated_at)
            .execute(self.pool()?)
            .await
            .map_err(map_err)
            .map(|_| ())
    }

    async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let r = sqlx::query(concat!("SELECT ", user_cols!(), " FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool()?)
            .await
            .map_err(map_err)?;
        r.as_ref().map(user_from).transpose()
    }

    async fn find_user(&self, username: &str) -> Result<Option<User>, StoreError> {
        let r = sqlx::query(concat!("SELECT ", user_cols!(), " FROM users WHERE username = $1"))
            .bind(username)
            .fetch_optional(self.pool()?)
            .await
            .map_err(map_err)?;
        r.as_ref().map(user_from).transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(concat!("SELECT ", user_cols!(), " FROM users ORDER BY username"))
            .fetch_all(self.pool()?)
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
        .bind(u.disabled)
        .bind(u.updated_at)
        .bind(&u.id)
        .execute(self.pool()?)
        .await
        .map_err(map_err)?;
        Ok(r.rows_affected() == 1)
    }

    async fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
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
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        sqlx::query("INSERT INTO scopes (name, description, created_at) VALUES ($1, $2, $3)")
            .bind(&s.name)
            .bind(&s.description)
            .bind(s.created_at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        self.commit_config(tx).await
    }

    async fn list_scopes(&self) -> Result<Vec<ScopeInfo>, StoreError> {
        let rows = sqlx::query("SELECT name, description, created_at FROM scopes ORDER BY name")
            .fetch_all(self.pool()?)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(ScopeInfo {
                    name: col(r, "name")?,
                    description: col(r, "description")?,
                    created_at: col(r, "created_at")?,
                })
            })
            .collect()
    }

    async fn delete_scope(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        let r =
            sqlx::query("DELETE FROM scopes WHERE name = $1").bind(name).execute(&mut *tx).await.map_err(map_err)?;
        self.commit_config(tx).await?;
        Ok(r.rows_affected() == 1)
    }

    async fn insert_session(&self, s: &Session) -> Result<(), StoreError> {
        sqlx::query(concat!("INSERT INTO sessions (", session_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)"))
            .bind(&s.digest.0[..])
            .bind(&s.id)
            .bind(&s.user_id)
            .bind(s.auth_time)
            .bind(&s.amr)
            .bind(s.created_at)
            .bind(s.expires_at)
            .execute(self.pool()?)
            .await
            .map_err(map_err)
            .map(|_| ())
    }

    async fn get_session(&self, digest: &Digest) -> Result<Option<Session>, StoreError> {
        let r = sqlx::query(concat!("SELECT ", session_cols!(), " FROM sessions WHERE digest = $1"))
            .bind(&digest.0[..])
            .fetch_optional(self.pool()?)
            .await
            .map_err(map_err)?;
        r.as_ref().map(session_from).transpose()
    }

    async fn delete_session(&self, digest: &Digest) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM sessions WHERE digest = $1")
            .bind(&digest.0[..])
            .execute(self.pool()?)
            .await
            .map_err(map_err)?;
        Ok(r.rows_affected() == 1)
    }

    async fn list_sessions(&self, user_id: &str) -> Result<Vec<Session>, StoreError> {
        let rows =
            sqlx::query(concat!("SELECT ", session_cols!(), " FROM sessions WHERE user_id = $1 ORDER BY created_at"))
                .bind(user_id)
                .fetch_all(self.pool()?)
                .await
                .map_err(map_err)?;
        rows.iter().map(session_from).collect()
    }

    async fn delete_user_sessions(&self, user_id: &str) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool()?)
            .await
            .map_err(map_err)?;
        Ok(r.rows_affected())
    }

    async fn put_consent(&self, c: &Consent) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = EXCLUDED.scope, granted_at = EXCLUDED.granted_at",
        )
        .bind(&c.user_id)
        .bind(&c.client_id)
        .bind(&c.scope)
        .bind(c.granted_at)
        .execute(self.pool()?)
        .await
        .map_err(map_err)
        .map(|_| ())
    }

    async fn get_consent(&self, user_id: &str, client_id: &str) -> Result<Option<Consent>, StoreError> {
        let r = sqlx::query("SELECT scope, granted_at FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .fetch_optional(self.pool()?)
            .await
            .map_err(map_err)?;
        r.map(|r| {
            Ok(Consent {
                user_id: user_id.to_string(),
                client_id: client_id.to_string(),
                scope: col(&r, "scope")?,
                granted_at: col(&r, "granted_at")?,
            })
        })
        .transpose()
    }

    async fn insert_code(&self, c: &AuthCode) -> Result<(), StoreError> {
        let aud = serde_json::to_string(&c.audience).map_err(unavailable)?;
        sqlx::query(concat!(
            "INSERT INTO auth_codes (",
            code_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(&c.digest.0[..])
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
        .execute(self.pool()?)
        .await
        .map_err(map_err)
        .map(|_| ())
    }

    async fn redeem_code(
        &self,
        digest: &Digest,
        client_id: &str,
        now: i64,
        grant_expires_at: i64,
    ) -> Result<Redemption, StoreError> {
        for _ in 0..REDEEM_ATTEMPTS {
            // One statement: the row lock of the UPDATE makes a concurrent
            // redemption wait, then find `used_at` set. The grant is
            // inserted with it, or (on any error) neither happens.
            let row = sqlx::query(concat!(
                "WITH c AS (UPDATE auth_codes SET used_at = $3 \
                 WHERE digest = $1 AND used_at IS NULL AND client_id = $2 AND expires_at > $3 RETURNING ",
                code_cols!(),
                "), g AS (INSERT INTO grants (",
                grant_cols!(),
                ") SELECT grant_id, user_id, client_id, scope, session_id, $3, $4 FROM c) SELECT ",
                code_cols!(),
                " FROM c"
            ))
            .bind(&digest.0[..])
            .bind(client_id)
            .bind(now)
            .bind(grant_expires_at)
            .fetch_optional(self.pool()?)
            .await
            .map_err(map_err)?;
            if let Some(row) = row {
                return Ok(Redemption::Redeemed(code_from(&row)?));
            }
            // Not redeemed: say why, in the order every backend checks.
            let row = sqlx::query(concat!("SELECT ", code_cols!(), ", used_at FROM auth_codes WHERE digest = $1"))
                .bind(&digest.0[..])
                .fetch_optional(self.pool()?)
                .await
                .map_err(map_err)?;
            let Some(row) = row else { return Ok(Redemption::Unknown) };
            let code = code_from(&row)?;
            if col::<Option<i64>>(&row, "used_at")?.is_some() {
                return Ok(Redemption::Replayed(code));
            }
            if code.client_id != client_id {
                return Ok(Redemption::WrongClient);
            }
            if now >= code.expires_at {
                return Ok(Redemption::Unknown);
            }
            // Unused and valid: it was inserted after the UPDATE began. Again.
        }
        Ok(Redemption::Unknown)
    }

    async fn insert_grant(&self, g: &Grant) -> Result<(), StoreError> {
        sqlx::query(concat!("INSERT INTO grants (", grant_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)"))
            .bind(&g.id)
            .bind(&g.user_id)
            .bind(&g.client_id)
            .bind(&g.scope)
            .bind(&g.session_id)
            .bind(g.created_at)
            .bind(g.expires_at)
            .execute(self.pool()?)
            .await
            .map_err(map_err)
            .map(|_| ())
    }

    async fn get_grant(&self, id: &str) -> Result<Option<Grant>, StoreError> {
        let r = sqlx::query(concat!("SELECT ", grant_cols!(), " FROM grants WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool()?)
            .await
            .map_err(map_err)?;
        r.as_ref().map(grant_from).transpose()
    }

    async fn list_grants(&self, f: &GrantFilter) -> Result<Vec<Grant>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            grant_cols!(),
            " FROM grants WHERE ($1::text IS NULL OR user_id = $1) AND ($2::text IS NULL OR client_id = $2) \
             ORDER BY created_at, id"
        ))
        .bind(&f.user_id)
        .bind(&f.client_id)
        .fetch_all(self.pool()?)
        .await
        .map_err(map_err)?;
        rows.iter().map(grant_from).collect()
    }
}
