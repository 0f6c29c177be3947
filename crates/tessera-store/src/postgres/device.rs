//! PostgreSQL implementation of [`DeviceStore`]. A poll is one transaction
//! that first locks the code's row (`SELECT … FOR UPDATE`): the interval
//! check, the redemption and the grant's insert cannot interleave with
//! another poll of the same code on any node. Approval and denial are
//! conditional updates, atomic on their own.

use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use tessera_core::secret::Digest;
use tessera_core::store::{DeviceCode, DeviceStatus, DeviceStore, Poll, StoreError};

use super::{PgStore, col, corrupt, digest_col, list_col, map_err, purge_one, unavailable};

// "interval" is quoted: it is a keyword in PostgreSQL.

fn device_from(r: &PgRow) -> Result<DeviceCode, StoreError> {
    let status: String = col(r, "status")?;
    let status = match status.as_str() {
        "pending" => DeviceStatus::Pending,
        "denied" => DeviceStatus::Denied,
        "redeemed" => DeviceStatus::Redeemed,
        "approved" => DeviceStatus::Approved {
            user_id: col::<Option<String>>(r, "user_id")?.unwrap_or_default(),
            auth_time: col::<Option<i64>>(r, "auth_time")?.unwrap_or_default(),
            amr: col::<Option<String>>(r, "amr")?.unwrap_or_default(),
        },
        other => return Err(corrupt(format!("device status {other:?}"))),
    };
    Ok(DeviceCode {
        device_digest: digest_col(r, "device_digest")?,
        user_digest: digest_col(r, "user_digest")?,
        client_id: col(r, "client_id")?,
        scope: col(r, "scope")?,
        audience: list_col(r, "audience")?,
        grant_id: col(r, "grant_id")?,
        created_at: col(r, "created_at")?,
        expires_at: col(r, "expires_at")?,
        interval: col(r, "interval")?,
        last_poll_at: col(r, "last_poll_at")?,
        status,
    })
}

/// Inside the purge's transaction. Device codes are kept a day past
/// expiry, like authorization codes.
pub(super) async fn purge(conn: &mut PgConnection, now: i64, batch: i64) -> Result<u64, StoreError> {
    purge_one(
        conn,
        "DELETE FROM device_codes WHERE device_digest IN \
         (SELECT device_digest FROM device_codes WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
        now - 24 * 3600,
        batch,
    )
    .await
}

/// One poll, on a transaction that has not yet touched the row.
async fn poll_locked(
    conn: &mut PgConnection,
    d: &Digest,
    client_id: &str,
    now: i64,
    grant_expires_at: i64,
) -> Result<Poll, StoreError> {
    // Concurrent polls of this code wait here until this one commits.
    let row = sqlx::query(concat!("SELECT ", device_cols!(), " FROM device_codes WHERE device_digest = $1 FOR UPDATE"))
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
    let approved = match &code.status {
        DeviceStatus::Approved { user_id, .. } if !too_soon => Some(user_id.clone()),
        _ => None,
    };
    sqlx::query(
        "UPDATE device_codes SET last_poll_at = $1, \"interval\" = $2, \
         status = CASE WHEN $3 THEN 'redeemed' ELSE status END WHERE device_digest = $4",
    )
    .bind(now)
    .bind(interval)
    .bind(approved.is_some())
    .bind(&d.0[..])
    .execute(&mut *conn)
    .await
    .map_err(map_err)?;
    if too_soon {
        return Ok(Poll::SlowDown(interval));
    }
    let Some(user_id) = approved else { return Ok(Poll::Pending) };
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
}

#[async_trait]
impl DeviceStore for PgStore {
    async fn insert_device(&self, d: &DeviceCode) -> Result<(), StoreError> {
        let aud = serde_json::to_string(&d.audience).map_err(unavailable)?;
        sqlx::query(concat!(
            "INSERT INTO device_codes (",
            device_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, 'pending', NULL, NULL, NULL)"
        ))
        .bind(&d.device_digest.0[..])
        .bind(&d.user_digest.0[..])
        .bind(&d.client_id)
        .bind(&d.scope)
        .bind(aud)
        .bind(&d.grant_id)
        .bind(d.created_at)
        .bind(d.expires_at)
        .bind(d.interval)
        .execute(self.pool()?)
        .await
        .map_err(map_err)
        .map(|_| ())
    }

    async fn find_device(&self, user_digest: &Digest, now: i64) -> Result<Option<DeviceCode>, StoreError> {
        let r = sqlx::query(concat!(
            "SELECT ",
            device_cols!(),
            " FROM device_codes WHERE user_digest = $1 AND status = 'pending' AND expires_at > $2"
        ))
        .bind(&user_digest.0[..])
        .bind(now)
        .fetch_optional(self.pool()?)
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
        let r = q.bind(&user_digest.0[..]).bind(now).execute(self.pool()?).await.map_err(map_err)?;
        Ok(r.rows_affected() == 1)
    }

    async fn poll_device(
        &self,
        device_digest: &Digest,
        client_id: &str,
        now: i64,
        grant_expires_at: i64,
    ) -> Result<Poll, StoreError> {
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        // On an error the transaction is dropped: rolled back, nothing spent.
        let poll = poll_locked(&mut tx, device_digest, client_id, now, grant_expires_at).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(poll)
    }
}
