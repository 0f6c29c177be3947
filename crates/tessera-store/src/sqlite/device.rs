//! SQLite implementation of [`DeviceStore`]. A poll is one job in the
//! writer's transaction: the interval check, the redemption and the grant
//! insert cannot interleave with another poll.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};
use tessera_core::secret::Digest;
use tessera_core::store::{DeviceCode, DeviceStatus, DeviceStore, Poll, StoreError};

use super::{SqliteStore, map_err, unavailable};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn digest(r: &SqliteRow, col: &str) -> Result<Digest, StoreError> {
    let b: Vec<u8> = r.try_get(col).map_err(corrupt)?;
    Digest::from_slice(&b).ok_or_else(|| corrupt("digest length"))
}

fn device_from(r: &SqliteRow) -> Result<DeviceCode, StoreError> {
    let aud: String = r.try_get("audience").map_err(corrupt)?;
    let status: String = r.try_get("status").map_err(corrupt)?;
    let status = match status.as_str() {
        "pending" => DeviceStatus::Pending,
        "denied" => DeviceStatus::Denied,
        "redeemed" => DeviceStatus::Redeemed,
        "approved" => DeviceStatus::Approved {
            user_id: r.try_get::<Option<String>, _>("user_id").map_err(corrupt)?.unwrap_or_default(),
            auth_time: r.try_get::<Option<i64>, _>("auth_time").map_err(corrupt)?.unwrap_or_default(),
            amr: r.try_get::<Option<String>, _>("amr").map_err(corrupt)?.unwrap_or_default(),
        },
        other => return Err(corrupt(format!("device status {other:?}"))),
    };
    Ok(DeviceCode {
        device_digest: digest(r, "device_digest")?,
        user_digest: digest(r, "user_digest")?,
        client_id: r.try_get("client_id").map_err(corrupt)?,
        scope: r.try_get("scope").map_err(corrupt)?,
        audience: serde_json::from_str(&aud).map_err(corrupt)?,
        grant_id: r.try_get("grant_id").map_err(corrupt)?,
        created_at: r.try_get("created_at").map_err(corrupt)?,
        expires_at: r.try_get("expires_at").map_err(corrupt)?,
        interval: r.try_get("interval").map_err(corrupt)?,
        last_poll_at: r.try_get("last_poll_at").map_err(corrupt)?,
        status,
    })
}

/// Device codes are kept a day past expiry, like authorization codes.
pub(super) async fn purge(pool: &SqlitePool, now: i64, batch: u32) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "DELETE FROM device_codes WHERE device_digest IN \
         (SELECT device_digest FROM device_codes WHERE expires_at <= $1 LIMIT $2)",
    )
    .bind(now - 24 * 3600)
    .bind(i64::from(batch))
    .execute(pool)
    .await
    .map_err(map_err)?
    .rows_affected())
}

#[async_trait]
impl DeviceStore for SqliteStore {
    async fn insert_device(&self, d: &DeviceCode) -> Result<(), StoreError> {
        let d = d.clone();
        let aud = serde_json::to_string(&d.audience).map_err(unavailable)?;
        self.exec(move |conn| {
            Box::pin(async move {
                sqlx::query(concat!(
                    "INSERT INTO device_codes (",
                    device_cols!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, 'pending', NULL, NULL, NULL)"
                ))
                .bind(d.device_digest.0.to_vec())
                .bind(d.user_digest.0.to_vec())
                .bind(&d.client_id)
                .bind(&d.scope)
                .bind(aud)
                .bind(&d.grant_id)
                .bind(d.created_at)
                .bind(d.expires_at)
                .bind(d.interval)
                .execute(&mut *conn)
                .await
                .map_err(map_err)
                .map(|_| ())
            })
        })
        .await
    }

    async fn find_device(&self, user_digest: &Digest, now: i64) -> Result<Option<DeviceCode>, StoreError> {
        let r = sqlx::query(concat!(
            "SELECT ",
            device_cols!(),
            " FROM device_codes WHERE user_digest = $1 AND status = 'pending' AND expires_at > $2"
        ))
        .bind(&user_digest.0[..])
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        r.as_ref().map(device_from).transpose()
    }

    async fn decide_device(
        &self,
        user_digest: &Digest,
        now: i64,
        approval: Option<(String, i64, String)>,
    ) -> Result<bool, StoreError> {
        let d = *user_digest;
        self.exec(move |conn| {
            Box::pin(async move {
                let q = match approval {
                    Some((user, auth_time, amr)) => sqlx::query(
                        "UPDATE device_codes SET status = 'approved', user_id = $1, auth_time = $2, amr = $3 \
                         WHERE user_digest = $4 AND status = 'pending' AND expires_at > $5",
                    )
                    .bind(user)
                    .bind(auth_time)
                    .bind(amr),
                    None => sqlx::query(
                        "UPDATE device_codes SET status = 'denied' \
                         WHERE user_digest = $1 AND status = 'pending' AND expires_at > $2",
                    ),
                };
                let r = q.bind(&d.0[..]).bind(now).execute(&mut *conn).await.map_err(map_err)?;
                Ok(r.rows_affected() == 1)
            })
        })
        .await
    }

    async fn poll_device(
        &self,
        device_digest: &Digest,
        client_id: &str,
        now: i64,
        grant_expires_at: i64,
    ) -> Result<Poll, StoreError> {
        let (d, client_id) = (*device_digest, client_id.to_string());
        self.exec(move |conn| {
            Box::pin(async move {
                let row =
                    sqlx::query(concat!("SELECT ", device_cols!(), " FROM device_codes WHERE device_digest = $1"))
                        .bind(&d.0[..])
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(map_err)?;
                let Some(row) = row else { return Ok(Poll::Invalid) };
                let code = device_from(&row)?;
                if code.client_id != client_id || code.status == DeviceStatus::Redeemed {
                    return Ok(Poll::Invalid);
                }
                if now >= code.expires_at {
                    return Ok(Poll::Expired);
                }
                if code.status == DeviceStatus::Denied {
                    return Ok(Poll::Denied);
                }
                // §3.5: polling faster than the interval earns 5 more seconds.
                let too_soon = code.last_poll_at.is_some_and(|t| now - t < code.interval);
                let interval = if too_soon { code.interval + 5 } else { code.interval };
                sqlx::query("UPDATE device_codes SET last_poll_at = $1, interval = $2 WHERE device_digest = $3")
                    .bind(now)
                    .bind(interval)
                    .bind(&d.0[..])
                    .execute(&mut *conn)
                    .await
                    .map_err(map_err)?;
                if too_soon {
                    return Ok(Poll::SlowDown(interval));
                }
                let DeviceStatus::Approved { user_id, .. } = &code.status else { return Ok(Poll::Pending) };
                sqlx::query("UPDATE device_codes SET status = 'redeemed' WHERE device_digest = $1")
                    .bind(&d.0[..])
                    .execute(&mut *conn)
                    .await
                    .map_err(map_err)?;
                sqlx::query(
                    "INSERT INTO grants (id, user_id, client_id, scope, session_id, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, NULL, $5, $6)",
                )
                .bind(&code.grant_id)
                .bind(user_id)
                .bind(&code.client_id)
                .bind(&code.scope)
                .bind(now)
                .bind(grant_expires_at)
                .execute(&mut *conn)
                .await
                .map_err(map_err)?;
                Ok(Poll::Approved(Box::new(code)))
            })
        })
        .await
    }
}
