//! PostgreSQL implementation of [`RefreshStore`]. A rotation is one
//! statement: a conditional `UPDATE … RETURNING` of the old token and the
//! successor's insert from its result, so of concurrent rotations on any
//! number of nodes exactly one finds the token unrotated, and a successor
//! is stored exactly when its rotation happened.

use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use tessera_core::secret::Digest;
use tessera_core::store::{RefreshState, RefreshStore, RefreshToken, Rotation, StoreError};

use super::{PgStore, col, digest_col, list_col, map_err, purge_one, unavailable};

fn state_from(r: &PgRow) -> Result<RefreshState, StoreError> {
    Ok(RefreshState {
        token: RefreshToken {
            digest: digest_col(r, "digest")?,
            grant_id: col(r, "grant_id")?,
            client_id: col(r, "client_id")?,
            user_id: col(r, "user_id")?,
            scope: col(r, "scope")?,
            audience: list_col(r, "audience")?,
            auth_time: col(r, "auth_time")?,
            issued_at: col(r, "issued_at")?,
            expires_at: col(r, "expires_at")?,
            family_expires_at: col(r, "family_expires_at")?,
        },
        rotated_at: col(r, "rotated_at")?,
        grace_until: col(r, "grace_until")?,
        successor: col(r, "successor")?,
        user_active: col(r, "user_active")?,
    })
}

/// Inside the purge's transaction: expired refresh tokens go; sealed
/// successors go once their window closes (not counted: the row stays).
pub(super) async fn purge(conn: &mut PgConnection, now: i64, batch: i64) -> Result<u64, StoreError> {
    let gone = purge_one(
        conn,
        "DELETE FROM refresh_tokens WHERE digest IN \
         (SELECT digest FROM refresh_tokens WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
        now,
        batch,
    )
    .await?;
    purge_one(
        conn,
        "UPDATE refresh_tokens SET successor = NULL WHERE digest IN \
         (SELECT digest FROM refresh_tokens WHERE successor IS NOT NULL AND grace_until <= $1 LIMIT $2 \
          FOR UPDATE SKIP LOCKED)",
        now,
        batch,
    )
    .await?;
    Ok(gone)
}

#[async_trait]
impl RefreshStore for PgStore {
    async fn insert_refresh(&self, t: &RefreshToken) -> Result<bool, StoreError> {
        let aud = serde_json::to_string(&t.audience).map_err(unavailable)?;
        // The grant's row is share-locked until this commits: a revocation
        // deleting it waits, then deletes this token too (it deletes the
        // grant first and the tokens in a later statement); a grant already
        // deleted locks nothing and nothing is inserted.
        let done = sqlx::query(concat!(
            "WITH g AS (SELECT id FROM grants WHERE id = $2 FOR KEY SHARE) INSERT INTO refresh_tokens (",
            refresh_cols!(),
            ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM g"
        ))
        .bind(&t.digest.0[..])
        .bind(&t.grant_id)
        .bind(&t.client_id)
        .bind(&t.user_id)
        .bind(&t.scope)
        .bind(aud)
        .bind(t.auth_time)
        .bind(t.issued_at)
        .bind(t.expires_at)
        .bind(t.family_expires_at)
        .execute(self.pool()?)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn get_refresh(&self, digest: &Digest) -> Result<Option<RefreshState>, StoreError> {
        let (lo, hi) = digest.id_range();
        let rows = sqlx::query(concat!(
            "SELECT ",
            refresh_cols!(),
            ", rotated_at, grace_until, successor, COALESCE((SELECT NOT disabled FROM users WHERE users.id = refresh_tokens.user_id), FALSE) AS user_active FROM refresh_tokens WHERE digest BETWEEN $1 AND $2"
        ))
        .bind(&lo.0[..])
        .bind(&hi.0[..])
        .fetch_all(self.pool()?)
        .await
        .map_err(map_err)?;
        let states = rows.iter().map(state_from).collect::<Result<Vec<_>, _>>()?;
        Ok(crate::columns::with_key(states, |s| s.token.digest, digest))
    }

    async fn rotate_refresh(
        &self,
        old: &Digest,
        now: i64,
        grace_until: i64,
        sealed: &[u8],
        successor: &RefreshToken,
    ) -> Result<Rotation, StoreError> {
        let aud = serde_json::to_string(&successor.audience).map_err(unavailable)?;
        // A concurrent rotation waits on the UPDATE's row lock, then finds
        // `rotated_at` set and inserts nothing. A revoked family has no rows
        // left; its end is on every row. The grant is share-locked (before
        // the token's row: the lock order of a revocation) so a revocation
        // racing this one deletes the successor too, as in `insert_refresh`.
        let done = sqlx::query(concat!(
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
        .bind(&old.0[..])
        .bind(&successor.digest.0[..])
        .bind(&successor.grant_id)
        .bind(&successor.client_id)
        .bind(&successor.user_id)
        .bind(&successor.scope)
        .bind(aud)
        .bind(successor.auth_time)
        .bind(successor.issued_at)
        .bind(successor.expires_at)
        .bind(successor.family_expires_at)
        .execute(self.pool()?)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 1 {
            return Ok(Rotation::Rotated);
        }
        let row = sqlx::query(concat!(
            "SELECT ",
            refresh_cols!(),
            ", rotated_at, grace_until, successor, COALESCE((SELECT NOT disabled FROM users WHERE users.id = refresh_tokens.user_id), FALSE) AS user_active FROM refresh_tokens WHERE digest = $1"
        ))
        .bind(&old.0[..])
        .fetch_optional(self.pool()?)
        .await
        .map_err(map_err)?;
        match row.as_ref().map(state_from).transpose()? {
            Some(state) if state.rotated_at.is_some() => Ok(Rotation::AlreadyRotated(Box::new(state))),
            _ => Ok(Rotation::Gone),
        }
    }
}
