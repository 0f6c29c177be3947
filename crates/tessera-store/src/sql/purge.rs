//! Purging expired rows: one list of batch-bounded statements for both
//! backends (`$1` the cutoff, `$2` the batch); PostgreSQL adds
//! `FOR UPDATE SKIP LOCKED` so a purge never waits on a live transaction.

use sqlx::Executor;
use tessera_core::store::{Purged, StoreError};

use super::{Bind, Dialect, affected, query};

/// Where a statement's count goes.
#[derive(Clone, Copy)]
pub(crate) enum Count {
    Tokens,
    Revocations,
    Other,
    /// A row changed, not removed.
    None,
}

/// `head` restricted to at most `$2` rows of `table` (by `key`) meeting `cond`.
macro_rules! bounded {
    ($head:literal, $table:literal, $key:literal, $cond:literal, $lock:literal) => {
        concat!(
            $head,
            " WHERE ",
            $key,
            " IN (SELECT ",
            $key,
            " FROM ",
            $table,
            " WHERE ",
            $cond,
            " LIMIT $2",
            $lock,
            ")"
        )
    };
}
pub(crate) use bounded;

/// The statements, with their count and how long past expiry a row is kept.
macro_rules! purge_statements {
    ($lock:literal) => {{
        use $crate::sql::codes::CODE_REPLAY_MEMORY as KEEP_SPENT;
        use $crate::sql::purge::{Count, bounded};
        [
            (
                bounded!("DELETE FROM access_tokens", "access_tokens", "digest", "expires_at <= $1", $lock),
                Count::Tokens,
                0,
            ),
            (
                bounded!("DELETE FROM revocations", "revocations", "seq", "expires_at <= $1", $lock),
                Count::Revocations,
                0,
            ),
            (
                bounded!("DELETE FROM auth_codes", "auth_codes", "digest", "expires_at <= $1", $lock),
                Count::Other,
                KEEP_SPENT,
            ),
            (bounded!("DELETE FROM sessions", "sessions", "digest", "expires_at <= $1", $lock), Count::Other, 0),
            (bounded!("DELETE FROM grants", "grants", "id", "expires_at <= $1", $lock), Count::Other, 0),
            (
                bounded!("DELETE FROM refresh_tokens", "refresh_tokens", "digest", "expires_at <= $1", $lock),
                Count::Other,
                0,
            ),
            // Sealed successors go once their retry window closes (the row stays).
            (
                bounded!(
                    "UPDATE refresh_tokens SET successor = NULL",
                    "refresh_tokens",
                    "digest",
                    "successor IS NOT NULL AND grace_until <= $1",
                    $lock
                ),
                Count::None,
                0,
            ),
            // Device codes are kept a day past expiry, like authorization codes.
            (
                bounded!("DELETE FROM device_codes", "device_codes", "device_digest", "expires_at <= $1", $lock),
                Count::Other,
                KEEP_SPENT,
            ),
            // A replay-cache entry lives through its expiry second: gone once `expires_at < now`.
            (bounded!("DELETE FROM replays", "replays", "key", "expires_at <= $1", $lock), Count::Other, 1),
        ]
    }};
}
pub(crate) use purge_statements;

/// Runs `statements` (a [`purge_statements!`]) in order on `conn`.
pub(crate) async fn purge<DB: Dialect, C>(
    conn: &mut C,
    statements: &[(&'static str, Count, i64)],
    now: i64,
    batch: u32,
) -> Result<Purged, StoreError>
where
    for<'c> &'c mut C: Executor<'c, Database = DB>,
{
    let mut purged = Purged::default();
    for &(sql, count, keep) in statements {
        let n = affected(query::<DB>(sql).arg(now - keep).arg(i64::from(batch)), &mut *conn).await?;
        match count {
            Count::Tokens => purged.tokens += n,
            Count::Revocations => purged.revocations += n,
            Count::Other => purged.other += n,
            Count::None => {}
        }
    }
    Ok(purged)
}
