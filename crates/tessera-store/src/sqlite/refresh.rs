//! SQLite implementation of [`RefreshStore`]. The rotation runs as one job
//! inside the writer's transaction, so the check and the update cannot
//! interleave with another rotation, in this process or another.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};
use tessera_core::secret::Digest;
use tessera_core::store::{RefreshState, RefreshStore, RefreshToken, Rotation, StoreError};

use super::{SqliteStore, map_err, unavailable};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn state_from(r: &SqliteRow) -> Result<RefreshState, StoreError> {
    let d: Vec<u8> = r.try_get("digest").map_err(corrupt)?;
    let aud: String = r.try_get("audience").map_err(corrupt)?;
    Ok(RefreshState {
        token: RefreshToken {
            digest: Digest::from_slice(&d).ok_or_else(|| corrupt("digest length"))?,
            grant_id: r.try_get("grant_id").map_err(corrupt)?,
            client_id: r.try_get("client_id").map_err(corrupt)?,
            user_id: r.try_get("user_id").map_err(corrupt)?,
            scope: r.try_get("scope").map_err(corrupt)?,
            audience: serde_json::from_str(&aud).map_err(corrupt)?,
            auth_time: r.try_get("auth_time").map_err(corrupt)?,
            issued_at: r.try_get("issued_at").map_err(corrupt)?,
            expires_at: r.try_get("expires_at").map_err(corrupt)?,
            family_expires_at: r.try_get("family_expires_at").map_err(corrupt)?,
        },
        rotated_at: r.try_get("rotated_at").map_err(corrupt)?,
        grace_until: r.try_get("grace_until").map_err(corrupt)?,
        successor: r.try_get("successor").map_err(corrupt)?,
        user_active: r.try_get("user_active").map_err(corrupt)?,
    })
}

/// `false` if the token's grant is gone: in the writer's transaction, no
/// revocation can come between the check and the insert.
async fn insert(conn: &mut sqlx::SqliteConnection, t: &RefreshToken) -> Result<bool, StoreError> {
    let aud = serde_json::to_string(&t.audience).map_err(unavailable)?;
    let done = sqlx::query(concat!(
        "INSERT INTO refresh_tokens (",
        refresh_cols!(),
        ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 WHERE EXISTS (SELECT 1 FROM grants WHERE id = $2)"
    ))
    .bind(t.digest.0.to_vec())
    .bind(&t.grant_id)
    .bind(&t.client_id)
    .bind(&t.user_id)
    .bind(&t.scope)
    .bind(aud)
    .bind(t.auth_time)
    .bind(t.issued_at)
    .bind(t.expires_at)
    .bind(t.family_expires_at)
    .execute(&mut *conn)
    .await
    .map_err(map_err)?;
    Ok(done.rows_affected() == 1)
}

/// Expired refresh tokens go; sealed successors go once their window closes.
pub(super) async fn purge(pool: &SqlitePool, now: i64, batch: u32) -> Result<u64, StoreError> {
    let gone = sqlx::query(
        "DELETE FROM refresh_tokens WHERE digest IN (SELECT digest FROM refresh_tokens WHERE expires_at <= $1 LIMIT $2)",
    )
    .bind(now)
    .bind(i64::from(batch))
    .execute(pool)
    .await
    .map_err(map_err)?
    .rows_affected();
    sqlx::query(
        "UPDATE refresh_tokens SET successor = NULL WHERE digest IN \
         (SELECT digest FROM refresh_tokens WHERE successor IS NOT NULL AND grace_until <= $1 LIMIT $2)",
    )
    .bind(now)
    .bind(i64::from(batch))
    .execute(pool)
    .await
    .map_err(map_err)?;
    Ok(gone)
}

#[async_trait]
impl RefreshStore for SqliteStore {
    async fn insert_refresh(&self, t: &RefreshToken) -> Result<bool, StoreError> {
        let t = t.clone();
        self.exec(move |conn| Box::pin(async move { insert(conn, &t).await })).await
    }

    async fn get_refresh(&self, digest: &Digest) -> Result<Option<RefreshState>, StoreError> {
        let (lo, hi) = digest.id_range();
        let rows = sqlx::query(concat!(
            "SELECT ",
            refresh_cols!(),
            ", rotated_at, grace_until, successor, COALESCE((SELECT disabled = 0 FROM users WHERE users.id = refresh_tokens.user_id), 0) AS user_active FROM refresh_tokens WHERE digest BETWEEN $1 AND $2"
        ))
        .bind(&lo.0[..])
        .bind(&hi.0[..])
        .fetch_all(&mut *self.hot.lock().await)
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
                let row = sqlx::query(concat!(
                    "SELECT ",
                    refresh_cols!(),
                    ", rotated_at, grace_until, successor, COALESCE((SELECT disabled = 0 FROM users WHERE users.id = refresh_tokens.user_id), 0) AS user_active FROM refresh_tokens WHERE digest = $1"
                ))
                .bind(&old.0[..])
                .fetch_optional(&mut *conn)
                .await
                .map_err(map_err)?;
                match row.as_ref().map(state_from).transpose()? {
                    Some(state) if state.rotated_at.is_some() => Ok(Rotation::AlreadyRotated(Box::new(state))),
                    _ => Ok(Rotation::Gone),
                }
            })
        })
        .await
    }
}
