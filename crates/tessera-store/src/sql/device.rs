//! Device requests (RFC 8628): the insert, the lookup by user code, the
//! decision, and one poll's steps. A poll must not interleave with another
//! poll of the same request: the backend makes it so (SQLite's single
//! writer, PostgreSQL's row lock taken by the `select` it passes in).

use sqlx::Executor;
use tessera_core::ids::ClientId;
use tessera_core::secret::Digest;
use tessera_core::store::{DeviceApproval, DeviceCode, DeviceStatus, Grant, Poll, StoreError};

use super::rows::{self, device_cols};
use super::{Bind, Dialect, affected, json_list, map_err, query};

pub(crate) async fn insert_device<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    d: &DeviceCode,
) -> Result<(), StoreError> {
    let q = query::<DB>(concat!(
        "INSERT INTO device_codes (",
        device_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, 'pending', NULL, NULL, NULL)"
    ))
    .arg(&d.device_digest.0[..])
    .arg(&d.user_digest.0[..])
    .arg(d.client_id.as_str())
    .arg(d.scope.to_string())
    .arg(json_list(&d.audience)?)
    .arg(&d.grant_id)
    .arg(d.created_at)
    .arg(d.expires_at)
    .arg(d.interval);
    affected(q, e).await.map(|_| ())
}

pub(crate) async fn find_device<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    user_digest: &Digest,
    now: i64,
) -> Result<Option<DeviceCode>, StoreError> {
    let q = query::<DB>(concat!(
        "SELECT ",
        device_cols!(),
        " FROM device_codes WHERE user_digest = $1 AND status = 'pending' AND expires_at > $2"
    ))
    .arg(&user_digest.0[..])
    .arg(now);
    q.fetch_optional(e).await.map_err(map_err)?.as_ref().map(rows::device).transpose()
}

pub(crate) async fn decide_device<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    user_digest: &Digest,
    now: i64,
    approval: Option<DeviceApproval>,
) -> Result<bool, StoreError> {
    let q = match approval {
        Some(a) => query::<DB>(
            "UPDATE device_codes SET status = 'approved', user_id = $1, auth_time = $2, amr = $3 \
             WHERE user_digest = $4 AND status = 'pending' AND expires_at > $5",
        )
        .arg(a.user_id.into_string())
        .arg(a.auth_time)
        .arg(a.amr.to_string()),
        None => query::<DB>(
            "UPDATE device_codes SET status = 'denied' WHERE user_digest = $1 AND status = 'pending' AND expires_at > $2",
        ),
    };
    Ok(affected(q.arg(&user_digest.0[..]).arg(now), e).await? == 1)
}

/// Reads a request by device code for a poll (PostgreSQL's adds `FOR UPDATE`).
macro_rules! poll_select {
    ($lock:literal) => {
        concat!("SELECT ", $crate::sql::rows::device_cols!(), " FROM device_codes WHERE device_digest = $1", $lock)
    };
}
pub(crate) use poll_select;

/// One poll by `client_id` at `now` (RFC 8628 §3.5), on a connection where
/// nothing else touches the request until the caller commits. `select` is
/// a [`poll_select!`].
pub(crate) async fn poll<DB: Dialect, C>(
    conn: &mut C,
    select: &'static str,
    d: &Digest,
    client_id: &ClientId,
    now: i64,
    grant_expires_at: i64,
) -> Result<Poll, StoreError>
where
    for<'c> &'c mut C: Executor<'c, Database = DB>,
{
    let row = query::<DB>(select).arg(&d.0[..]).fetch_optional(&mut *conn).await.map_err(map_err)?;
    let Some(row) = row else { return Ok(Poll::Invalid) };
    let code = rows::device(&row)?;
    if code.client_id != *client_id || code.status == DeviceStatus::Redeemed {
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
        DeviceStatus::Approved(a) if !too_soon => Some(a.user_id.clone()),
        _ => None,
    };
    let q = query::<DB>(
        "UPDATE device_codes SET last_poll_at = $1, \"interval\" = $2, \
         status = CASE WHEN $3 THEN 'redeemed' ELSE status END WHERE device_digest = $4",
    )
    .arg(now)
    .arg(interval)
    .arg(approved.is_some())
    .arg(&d.0[..]);
    affected(q, &mut *conn).await?;
    if too_soon {
        return Ok(Poll::SlowDown(interval));
    }
    let Some(user_id) = approved else { return Ok(Poll::Pending) };
    let grant = Grant {
        id: code.grant_id.clone(),
        user_id,
        client_id: code.client_id.clone(),
        scope: code.scope.clone(),
        session_id: None,
        created_at: now,
        expires_at: grant_expires_at,
    };
    super::accounts::insert_grant(&mut *conn, &grant).await?;
    Ok(Poll::Approved(Box::new(code)))
}
