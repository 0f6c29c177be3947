//! Shared sign-in failure counters ([`AttemptStore`]): a compare-and-swap
//! is one conditional statement, so two nodes counting the same account
//! cannot both win with the same old count. The replay cache ([`ReplayStore`])
//! is the same kind of cluster-wide single-use record.

use async_trait::async_trait;
use sqlx::postgres::PgConnection;
use tessera_core::store::{AttemptStore, ReplayStore, StoreError};
use tessera_core::throttle::{Count, WINDOW};

use super::{PgStore, map_err};
use crate::sql::{SqlRow, corrupt_by};

/// Counters whose window has passed count for nothing: deleted in batches.
pub(super) async fn purge(conn: &mut PgConnection, now: i64, batch: u32) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "DELETE FROM signin_attempts WHERE key IN \
         (SELECT key FROM signin_attempts WHERE first_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind(now - WINDOW)
    .bind(i64::from(batch))
    .execute(&mut *conn)
    .await
    .map_err(map_err)?;
    Ok(done.rows_affected())
}

#[async_trait]
impl AttemptStore for PgStore {
    async fn get_attempts(&self, key: &str) -> Result<Option<Count>, StoreError> {
        let row = sqlx::query("SELECT failures, first_at, last_at FROM signin_attempts WHERE key = $1")
            .bind(key)
            .fetch_optional(self.pool()?)
            .await
            .map_err(map_err)?;
        row.map(|r| {
            let failures: i32 = r.col("failures")?;
            Ok(Count {
                failures: u32::try_from(failures).map_err(|e| corrupt_by("column failures", e))?,
                first: r.col("first_at")?,
                last: r.col("last_at")?,
            })
        })
        .transpose()
    }

    async fn swap_attempts(&self, key: &str, expected: Option<Count>, new: Option<Count>) -> Result<bool, StoreError> {
        let pool = self.pool()?;
        let n = |c: Count| i32::try_from(c.failures).unwrap_or(i32::MAX);
        let done =
            match (expected, new) {
                (None, None) => return Ok(self.get_attempts(key).await?.is_none()),
                (None, Some(c)) => {
                    sqlx::query(
                        "INSERT INTO signin_attempts (key, failures, first_at, last_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key) DO NOTHING",
                    )
                    .bind(key)
                    .bind(n(c))
                    .bind(c.first)
                    .bind(c.last)
                    .execute(pool)
                    .await
                }
                (Some(e), Some(c)) => {
                    sqlx::query(
                        "UPDATE signin_attempts SET failures = $5, first_at = $6, last_at = $7 \
                 WHERE key = $1 AND failures = $2 AND first_at = $3 AND last_at = $4",
                    )
                    .bind(key)
                    .bind(n(e))
                    .bind(e.first)
                    .bind(e.last)
                    .bind(n(c))
                    .bind(c.first)
                    .bind(c.last)
                    .execute(pool)
                    .await
                }
                (Some(e), None) => sqlx::query(
                    "DELETE FROM signin_attempts WHERE key = $1 AND failures = $2 AND first_at = $3 AND last_at = $4",
                )
                .bind(key)
                .bind(n(e))
                .bind(e.first)
                .bind(e.last)
                .execute(pool)
                .await,
            };
        Ok(done.map_err(map_err)?.rows_affected() == 1)
    }
}

/// The replay cache: one upsert on the pool, atomic across nodes.
#[async_trait]
impl ReplayStore for PgStore {
    async fn first_use(&self, key: &[u8; 32], expires_at: i64, now: i64) -> Result<bool, StoreError> {
        crate::sql::replays::first_use(self.pool()?, key, expires_at, now).await
    }
}
