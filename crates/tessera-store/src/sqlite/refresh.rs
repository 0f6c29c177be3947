//! SQLite implementation of [`RefreshStore`]. The rotation runs as one job
//! inside the writer's transaction, so the check and the update cannot
//! interleave with another rotation, in this process or another.

use async_trait::async_trait;
use tessera_core::secret::Digest;
use tessera_core::store::{RefreshState, RefreshStore, RefreshToken, Rotation, StoreError};

use super::{SqliteStore, map_err};
use crate::sql::refresh::{bind_token, get_refresh};
use crate::sql::rows::refresh_cols;

/// `false` if the token's grant is gone: in the writer's transaction, no
/// revocation can come between the check and the insert.
async fn insert(conn: &mut sqlx::SqliteConnection, t: &RefreshToken) -> Result<bool, StoreError> {
    let q = sqlx::query::<sqlx::Sqlite>(concat!(
        "INSERT INTO refresh_tokens (",
        refresh_cols!(),
        ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 WHERE EXISTS (SELECT 1 FROM grants WHERE id = $2)"
    ));
    let done = bind_token(q, t)?.execute(&mut *conn).await.map_err(map_err)?;
    Ok(done.rows_affected() == 1)
}

#[async_trait]
impl RefreshStore for SqliteStore {
    async fn insert_refresh(&self, t: &RefreshToken) -> Result<bool, StoreError> {
        let t = t.clone();
        self.exec(move |conn| Box::pin(async move { insert(conn, &t).await })).await
    }

    async fn get_refresh(&self, digest: &Digest) -> Result<Option<RefreshState>, StoreError> {
        get_refresh(&mut *self.hot.lock().await, digest).await
    }

    async fn rotate_refresh(
        &self,
        old: &Digest,
        now: i64,
        grace_until: i64,
        sealed: &[u8],
        successor: &RefreshToken,
    ) -> Result<Rotation, StoreError> {
        let (old, sealed, successor) = (*old, sealed.to_vec(), successor.clone());
        self.exec(move |conn| {
            Box::pin(async move {
                // The successor first, then the rotation: if the rotation does
                // not happen, the successor is taken back, so no failure leaves
                // a rotated token without its successor. A revoked family has
                // no rows left; its end is on every row; its grant must exist.
                if !insert(conn, &successor).await? {
                    return Ok(Rotation::Gone);
                }
                let done = sqlx::query(
                    "UPDATE refresh_tokens SET rotated_at = $1, grace_until = $2, successor = $3 \
                     WHERE digest = $4 AND rotated_at IS NULL AND expires_at > $1 AND family_expires_at > $1",
                )
                .bind(now)
                .bind(grace_until)
                .bind(sealed)
                .bind(&old.0[..])
                .execute(&mut *conn)
                .await
                .map_err(map_err)?;
                if done.rows_affected() == 1 {
                    return Ok(Rotation::Rotated);
                }
                sqlx::query("DELETE FROM refresh_tokens WHERE digest = $1")
                    .bind(successor.digest.0.to_vec())
                    .execute(&mut *conn)
                    .await
                    .map_err(map_err)?;
                match get_refresh(&mut *conn, &old).await? {
                    Some(state) if state.rotated_at.is_some() => Ok(Rotation::AlreadyRotated(Box::new(state))),
                    _ => Ok(Rotation::Gone),
                }
            })
        })
        .await
    }
}
