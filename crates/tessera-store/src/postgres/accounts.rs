//! PostgreSQL: users, sessions, consent, codes and grants. Each call is
//! one statement on the pool, except where several rows must change
//! together; a code redemption is one statement (a conditional
//! `UPDATE … RETURNING` and the grant's insert), so of concurrent
//! redemptions on any number of nodes exactly one finds the code unused.

use async_trait::async_trait;
use tessera_core::ids::{ClientId, UserId};
use tessera_core::secret::Digest;
use tessera_core::store::{
    AuthCode, CodeStore, Consent, ConsentStore, Grant, GrantFilter, GrantStore, Redemption, Session, SessionStore,
    StoreError, User, UserStore,
};

use super::{PgStore, map_err};
use crate::sql::accounts::{self as sql, USER_BY_ID, USER_BY_NAME};
use crate::sql::codes;
use crate::sql::rows::{self, code_cols, grant_cols};

/// How many times a redemption is tried when its outcome is ambiguous (a
/// code appearing between its two statements).
const REDEEM_ATTEMPTS: usize = 3;

#[async_trait]
impl UserStore for PgStore {
    async fn insert_user(&self, u: &User) -> Result<(), StoreError> {
        sql::insert_user(self.pool()?, u).await
    }

    async fn get_user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        sql::get_user(self.pool()?, USER_BY_ID, id.as_str()).await
    }

    async fn find_user(&self, username: &str) -> Result<Option<User>, StoreError> {
        sql::get_user(self.pool()?, USER_BY_NAME, username).await
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        sql::list_users(self.pool()?).await
    }

    async fn update_user(&self, u: &User) -> Result<bool, StoreError> {
        sql::update_user(self.pool()?, u).await
    }

    async fn delete_user(&self, id: &UserId) -> Result<bool, StoreError> {
        sql::delete_user(self.pool()?, id).await
    }
}

#[async_trait]
impl SessionStore for PgStore {
    async fn insert_session(&self, s: &Session) -> Result<(), StoreError> {
        sql::insert_session(self.pool()?, s).await
    }

    async fn get_session(&self, digest: &Digest) -> Result<Option<Session>, StoreError> {
        sql::get_session(self.pool()?, digest).await
    }

    async fn delete_session(&self, digest: &Digest) -> Result<bool, StoreError> {
        sql::delete_session(self.pool()?, digest).await
    }

    async fn list_sessions(&self, user_id: &UserId) -> Result<Vec<Session>, StoreError> {
        sql::list_sessions(self.pool()?, user_id).await
    }

    async fn delete_user_sessions(&self, user_id: &UserId) -> Result<u64, StoreError> {
        sql::delete_user_sessions(self.pool()?, user_id).await
    }
}

#[async_trait]
impl ConsentStore for PgStore {
    async fn put_consent(&self, c: &Consent) -> Result<(), StoreError> {
        sql::put_consent(self.pool()?, c).await
    }

    async fn get_consent(&self, user_id: &UserId, client_id: &ClientId) -> Result<Option<Consent>, StoreError> {
        sql::get_consent(self.pool()?, user_id, client_id).await
    }
}

#[async_trait]
impl CodeStore for PgStore {
    async fn insert_code(&self, c: &AuthCode) -> Result<(), StoreError> {
        codes::insert_code(self.pool()?, c).await
    }

    async fn redeem_code(
        &self,
        digest: &Digest,
        client_id: &ClientId,
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
            .bind(client_id.as_str())
            .bind(now)
            .bind(grant_expires_at)
            .fetch_optional(self.pool()?)
            .await
            .map_err(map_err)?;
            if let Some(row) = row {
                return Ok(Redemption::Redeemed(rows::code(&row)?));
            }
            // Not redeemed: say why, in the order every backend checks.
            let Some((code, used)) = codes::read_code(self.pool()?, digest).await? else {
                return Ok(Redemption::Unknown);
            };
            if let Some(answer) = codes::refusal(&code, used, client_id, now) {
                return Ok(answer);
            }
            // Unused and valid: it was inserted after the UPDATE began. Again.
        }
        Ok(Redemption::Unknown)
    }
}

#[async_trait]
impl GrantStore for PgStore {
    async fn insert_grant(&self, g: &Grant) -> Result<(), StoreError> {
        sql::insert_grant(self.pool()?, g).await
    }

    async fn get_grant(&self, id: &str) -> Result<Option<Grant>, StoreError> {
        sql::get_grant(self.pool()?, id).await
    }

    async fn list_grants(&self, f: &GrantFilter) -> Result<Vec<Grant>, StoreError> {
        sql::list_grants(self.pool()?, f).await
    }
}
