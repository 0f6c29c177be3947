//! The replay cache ([`tessera_core::store::ReplayStore`]): one upsert for
//! both backends. A key is inserted, or an expired entry (`expires_at <
//! now`: an entry lives through its expiry second) is taken over; a live
//! entry makes the statement change nothing. On PostgreSQL a concurrent
//! upsert of the same key waits for the first to commit, then sees its
//! live entry; on SQLite the statement runs in the single writer.

use sqlx::Executor;
use tessera_core::store::StoreError;

use super::{Bind, Dialect, affected, query};

const FIRST_USE: &str = "INSERT INTO replays (key, expires_at) VALUES ($1, $2) ON CONFLICT (key) \
     DO UPDATE SET expires_at = excluded.expires_at WHERE replays.expires_at < $3";

/// `true` when this call recorded `key` (see the trait's contract).
pub(crate) async fn first_use<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    key: &[u8; 32],
    expires_at: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let q = query::<DB>(FIRST_USE).arg(&key[..]).arg(expires_at).arg(now);
    Ok(affected(q, e).await? == 1)
}
