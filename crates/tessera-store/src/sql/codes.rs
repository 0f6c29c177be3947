//! Authorization codes: the insert and the reads a redemption decides on.
//! The redemption itself (the single-use step) is each backend's own.

use sqlx::Executor;
use tessera_core::ids::ClientId;
use tessera_core::secret::Digest;
use tessera_core::store::{AuthCode, Redemption, StoreError};

use super::rows::{self, code_cols};
use super::{Bind, Dialect, SqlRow, affected, json_list, map_err, query};

/// Consumed codes are kept a day past expiry so a late replay is still
/// recognised (and revokes what the code yielded).
pub(crate) const CODE_REPLAY_MEMORY: i64 = 24 * 60 * 60;

pub(crate) async fn insert_code<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    c: &AuthCode,
) -> Result<(), StoreError> {
    let q = query::<DB>(concat!(
        "INSERT INTO auth_codes (",
        code_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ))
    .arg(&c.digest.0[..])
    .arg(c.client_id.as_str())
    .arg(c.user_id.as_str())
    .arg(&c.grant_id)
    .arg(&c.redirect_uri)
    .arg(c.code_challenge.as_str())
    .arg(c.scope.to_string())
    .arg(json_list(&c.audience)?)
    .arg(&c.nonce)
    .arg(c.auth_time)
    .arg(c.amr.to_string())
    .arg(&c.session_id)
    .arg(c.created_at)
    .arg(c.expires_at)
    .arg(&c.dpop_jkt);
    affected(q, e).await.map(|_| ())
}

/// A code and whether it was used, however it stands.
pub(crate) async fn read_code<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    digest: &Digest,
) -> Result<Option<(AuthCode, bool)>, StoreError> {
    let q =
        query::<DB>(concat!("SELECT ", code_cols!(), ", used_at FROM auth_codes WHERE digest = $1")).arg(&digest.0[..]);
    let Some(row) = q.fetch_optional(e).await.map_err(map_err)? else { return Ok(None) };
    let used: Option<i64> = row.col("used_at")?;
    Ok(Some((rows::code(&row)?, used.is_some())))
}

/// Why `client_id` may not redeem `code` at `now`, in the order every
/// backend checks; `None`: it may.
pub(crate) fn refusal(code: &AuthCode, used: bool, client_id: &ClientId, now: i64) -> Option<Redemption> {
    if used {
        return Some(Redemption::Replayed(code.clone()));
    }
    if code.client_id != *client_id {
        return Some(Redemption::WrongClient);
    }
    if now >= code.expires_at {
        return Some(Redemption::Unknown);
    }
    None
}
