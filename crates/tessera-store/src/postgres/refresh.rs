//! PostgreSQL implementation of [`RefreshStore`]. A rotation is one
//! statement: a conditional `UPDATE … RETURNING` of the old token and the
//! successor's insert from its result, so of concurrent rotations on any
//! number of nodes exactly one finds the token unrotated, and a successor
//! is stored exactly when its rotation happened.

use async_trait::async_trait;
use tessera_core::secret::Digest;
use tessera_core::store::{RefreshState, RefreshStore, RefreshToken, Rotation, StoreError};

use super::{PgStore, map_err};
use crate::sql::refresh::{bind_token, get_refresh};
use crate::sql::rows::refresh_cols;

#[async_trait]
impl RefreshStore for PgStore {
    async fn insert_refresh(&self, t: &RefreshToken) -> Result<bool, StoreError> {
        // The grant's row is share-locked until this commits: a revocation
        // deleting it waits, then deletes this token too (it deletes the
        // grant first and the tokens in a later statement); a grant already
        // deleted locks nothing and nothing is inserted.
        let q = sqlx::query::<sqlx::Postgres>(concat!(
            "WITH g AS (SELECT id FROM grants WHERE id = $2 FOR KEY SHARE) INSERT INTO refresh_tokens (",
            refresh_cols!(),
            ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM g"
        ));
        let done = bind_token(q, t)?.execute(self.pool()?).await.map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn get_refresh(&self, digest: &Digest) -> Result<Option<RefreshState>, StoreError> {
        get_refresh(self.pool()?, digest).await
    }

    async fn rotate_refresh(
        &self,
        old: &Digest,
        now: i64,
        grace_until: i64,
        sealed: &[u8],
        successor: &RefreshToken,
    ) -> Result<Rotation, StoreError> {
        // A concurrent rotation waits on the UPDATE's row lock, then finds
        // `rotated_at` set and inserts nothing. A revoked family has no rows
        // left; its end is on every row. The grant is share-locked (before
        // the token's row: the lock order of a revocation) so a revocation
        // racing this one deletes the successor too, as in `insert_refresh`.
        let q = sqlx::query::<sqlx::Postgres>(concat!(
            "WITH g AS (SELECT id FROM grants WHERE id = $6 FOR KEY SHARE), \
             r AS (UPDATE refresh_tokens SET rotated_at = $1, grace_until = $2, successor = $3 \
             WHERE digest = $4 AND rotated_at IS NULL AND expires_at > $1 AND family_expires_at > $1 \
             AND EXISTS (SELECT 1 FROM g) RETURNING digest) \
             INSERT INTO refresh_tokens (",
            refresh_cols!(),
            ") SELECT $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 FROM r"
        ))
        .bind(now)
        .bind(grace_until)
        .bind(sealed)
        .bind(&old.0[..]);
        let done = bind_token(q, successor)?.execute(self.pool()?).await.map_err(map_err)?;
        if done.rows_affected() == 1 {
            return Ok(Rotation::Rotated);
        }
        match get_refresh(self.pool()?, old).await? {
            Some(state) if state.rotated_at.is_some() => Ok(Rotation::AlreadyRotated(Box::new(state))),
            _ => Ok(Rotation::Gone),
        }
    }
}
