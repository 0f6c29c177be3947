//! PostgreSQL: opaque access tokens, the revocation feed and the
//! store-wide facts. Token inserts are group-committed (`tokens.rs`);
//! revocation numbers come from a one-row counter locked until commit, so
//! they are handed out in commit order; a NOTIFY wakes every node.

use async_trait::async_trait;
use tessera_core::secret::TokenKey;
use tessera_core::store::{
    AttemptStore, OpaqueToken, Purged, Revocation, RevocationEntry, RevocationSignal, RevocationStore, RevokedToken,
    StoreError, StoreWide, TokenStore,
};

use super::{PURGE_LOCK, PgStore, attempts, listen, map_err};
use crate::sql::purge::{self, purge_statements};
use crate::sql::revocations::bind_entry;
use crate::sql::{SqlRow, config, revocations};

#[async_trait]
impl TokenStore for PgStore {
    async fn insert_token(&self, t: &OpaqueToken) -> Result<(), StoreError> {
        self.pool()?;
        self.tokens.submit(t.clone()).await
    }

    async fn find_token(&self, key: &TokenKey) -> Result<Option<OpaqueToken>, StoreError> {
        revocations::find_token(self.pool()?, key).await
    }
}

#[async_trait]
impl RevocationStore for PgStore {
    async fn revoke(&self, r: &Revocation) -> Result<i64, StoreError> {
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        revocations::delete_revoked(&mut *tx, &r.token).await?;
        // The counter row stays locked until this commits: the next revoker
        // waits here, so sequence numbers are handed out in commit order.
        let q = sqlx::query(
            "WITH c AS (UPDATE revocation_counter SET seq = seq + 1 RETURNING seq) \
             INSERT INTO revocations (seq, kind, token_key, client_id, expires_at, revoked_at) \
             SELECT seq, $1, $2, $3, $4, $5 FROM c RETURNING seq",
        );
        let seq: i64 = bind_entry(q, r).fetch_one(&mut *tx).await.map_err(map_err)?.col("seq")?;
        // Delivered to every listening node when, and only if, this commits.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(listen::REVOCATION_CHANNEL)
            .bind(seq.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if matches!(r.token, RevokedToken::Key(_)) {
            // A key change: every node reloads its keys.
            self.commit_config(tx).await?;
        } else {
            tx.commit().await.map_err(map_err)?;
        }
        self.signals.revocations_changed();
        Ok(seq)
    }

    async fn revocations_after(&self, after: i64, limit: u32) -> Result<Vec<RevocationEntry>, StoreError> {
        revocations::revocations_after(self.pool()?, after, limit).await
    }

    async fn revocation_head(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT seq FROM revocation_counter").fetch_one(self.pool()?).await.map_err(map_err)
    }
}

#[async_trait]
impl StoreWide for PgStore {
    fn config_generation(&self) -> u64 {
        self.signals.config_generation()
    }

    fn revocation_signal(&self) -> Option<RevocationSignal> {
        Some(self.signals.revocation_signal())
    }

    fn shared_attempts(&self) -> Option<&dyn AttemptStore> {
        Some(self)
    }

    /// One transaction holding a transaction-level advisory lock: a node
    /// finding it taken returns at once (another node is purging). Each
    /// statement deletes at most `batch` rows, skipping rows another
    /// transaction holds, so nothing waits on the purge for long.
    async fn purge_expired(&self, now: i64, batch: u32) -> Result<Purged, StoreError> {
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        let mine: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(PURGE_LOCK)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        if !mine {
            let _ = tx.rollback().await;
            return Ok(Purged::default());
        }
        let mut purged = purge::purge(&mut *tx, &purge_statements!(" FOR UPDATE SKIP LOCKED"), now, batch).await?;
        purged.other += attempts::purge(&mut tx, now, batch).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(purged)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        config::ping(self.pool()?).await
    }
}
