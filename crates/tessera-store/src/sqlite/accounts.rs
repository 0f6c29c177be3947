//! SQLite: users, sessions, consent, codes and grants. Reads go to the pool
//! (a user on the held connection, as every refresh checks one); writes on
//! the sign-in path (sessions, consent, codes, grants) go through the writer
//! as [`super::exec`] jobs, so they share its group commit instead of
//! fighting it for SQLite's single write lock.

use async_trait::async_trait;
use tessera_core::ids::{ClientId, UserId};
use tessera_core::secret::Digest;
use tessera_core::store::{
    AuthCode, CodeStore, Consent, ConsentStore, Grant, GrantFilter, GrantStore, Redemption, Session, SessionStore,
    StoreError, User, UserStore,
};

use super::{SqliteStore, map_err};
use crate::sql::accounts::{self as sql, USER_BY_ID, USER_BY_NAME};
use crate::sql::codes;

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert_user(&self, u: &User) -> Result<(), StoreError> {
        sql::insert_user(&self.pool, u).await
    }

    async fn get_user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        // On the held connection, as the refresh token's own read: every
        // refresh checks its user (8 µs here against 27–59 µs from the pool).
        sql::get_user(&mut *self.hot.lock().await, USER_BY_ID, id.as_str()).await
    }

    async fn find_user(&self, username: &str) -> Result<Option<User>, StoreError> {
        sql::get_user(&self.pool, USER_BY_NAME, username).await
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        sql::list_users(&self.pool).await
    }

    async fn update_user(&self, u: &User) -> Result<bool, StoreError> {
        sql::update_user(&self.pool, u).await
    }

    async fn delete_user(&self, id: &UserId) -> Result<bool, StoreError> {
        sql::delete_user(&self.pool, id).await
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_session(&self, s: &Session) -> Result<(), StoreError> {
        let s = s.clone();
        self.exec(move |conn| Box::pin(async move { sql::insert_session(conn, &s).await })).await
    }

    async fn get_session(&self, digest: &Digest) -> Result<Option<Session>, StoreError> {
        sql::get_session(&self.pool, digest).await
    }

    async fn delete_session(&self, digest: &Digest) -> Result<bool, StoreError> {
        sql::delete_session(&self.pool, digest).await
    }

    async fn list_sessions(&self, user_id: &UserId) -> Result<Vec<Session>, StoreError> {
        sql::list_sessions(&self.pool, user_id).await
    }

    async fn delete_user_sessions(&self, user_id: &UserId) -> Result<u64, StoreError> {
        sql::delete_user_sessions(&self.pool, user_id).await
    }
}

#[async_trait]
impl ConsentStore for SqliteStore {
    async fn put_consent(&self, c: &Consent) -> Result<(), StoreError> {
        let c = c.clone();
        self.exec(move |conn| Box::pin(async move { sql::put_consent(conn, &c).await })).await
    }

    async fn get_consent(&self, user_id: &UserId, client_id: &ClientId) -> Result<Option<Consent>, StoreError> {
        sql::get_consent(&self.pool, user_id, client_id).await
    }
}

#[async_trait]
impl CodeStore for SqliteStore {
    async fn insert_code(&self, c: &AuthCode) -> Result<(), StoreError> {
        let c = c.clone();
        self.exec(move |conn| Box::pin(async move { codes::insert_code(conn, &c).await })).await
    }

    async fn redeem_code(
        &self,
        digest: &Digest,
        client_id: &ClientId,
        now: i64,
        grant_expires_at: i64,
    ) -> Result<Redemption, StoreError> {
        let (digest, client_id) = (*digest, client_id.clone());
        self.exec(move |conn| {
            Box::pin(async move {
                // One writer runs this whole closure between two other jobs:
                // the read and the update cannot interleave with another redemption.
                let Some((code, used)) = codes::read_code(&mut *conn, &digest).await? else {
                    return Ok(Redemption::Unknown);
                };
                if let Some(answer) = codes::refusal(&code, used, &client_id, now) {
                    return Ok(answer);
                }
                let spent = sqlx::query("UPDATE auth_codes SET used_at = $1 WHERE digest = $2 AND used_at IS NULL")
                    .bind(now)
                    .bind(&digest.0[..])
                    .execute(&mut *conn)
                    .await
                    .map_err(map_err)?;
                if spent.rows_affected() != 1 {
                    return Ok(Redemption::Replayed(code));
                }
                let grant = Grant {
                    id: code.grant_id.clone(),
                    user_id: code.user_id.clone(),
                    client_id: code.client_id.clone(),
                    scope: code.scope.clone(),
                    session_id: Some(code.session_id.clone()),
                    created_at: now,
                    expires_at: grant_expires_at,
                };
                sql::insert_grant(&mut *conn, &grant).await?;
                Ok(Redemption::Redeemed(code))
            })
        })
        .await
    }
}

#[async_trait]
impl GrantStore for SqliteStore {
    async fn insert_grant(&self, g: &Grant) -> Result<(), StoreError> {
        let g = g.clone();
        self.exec(move |conn| Box::pin(async move { sql::insert_grant(conn, &g).await })).await
    }

    async fn get_grant(&self, id: &str) -> Result<Option<Grant>, StoreError> {
        sql::get_grant(&self.pool, id).await
    }

    async fn list_grants(&self, f: &GrantFilter) -> Result<Vec<Grant>, StoreError> {
        sql::list_grants(&self.pool, f).await
    }
}
