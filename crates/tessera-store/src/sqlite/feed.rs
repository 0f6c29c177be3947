//! SQLite: opaque access tokens, the revocation feed and the store-wide
//! facts. Token inserts and revocations go through the writer's group
//! commit (`Op`); the generation is the size of `<db>.generation`.

use async_trait::async_trait;
use tessera_core::secret::TokenKey;
use tessera_core::store::{
    OpaqueToken, Purged, Revocation, RevocationEntry, RevocationStore, RevokedToken, StoreError, StoreWide, TokenStore,
};

use super::{Op, SqliteStore, map_err};
use crate::sql::purge::{self, purge_statements};
use crate::sql::{config, revocations};

#[async_trait]
impl TokenStore for SqliteStore {
    async fn insert_token(&self, token: &OpaqueToken) -> Result<(), StoreError> {
        self.submit(Op::InsertToken(Box::new(token.clone()))).await.map(|_| ())
    }

    async fn find_token(&self, key: &TokenKey) -> Result<Option<OpaqueToken>, StoreError> {
        revocations::find_token(&self.pool, key).await
    }
}

#[async_trait]
impl RevocationStore for SqliteStore {
    async fn revoke(&self, revocation: &Revocation) -> Result<i64, StoreError> {
        let seq = self.submit(Op::Revoke(revocation.clone())).await?;
        if matches!(revocation.token, RevokedToken::Key(_)) {
            // The key was deleted: running servers reload their keys.
            self.bump_generation()?;
        }
        Ok(seq)
    }

    async fn revocations_after(&self, after: i64, limit: u32) -> Result<Vec<RevocationEntry>, StoreError> {
        revocations::revocations_after(&self.pool, after, limit).await
    }

    async fn revocation_head(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'revocations'")
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(seq.unwrap_or(0))
    }
}

#[async_trait]
impl StoreWide for SqliteStore {
    fn config_generation(&self) -> u64 {
        self.generation_file.metadata().map(|m| m.len()).unwrap_or(0)
    }

    /// Each statement commits on its own, outside the writer.
    async fn purge_expired(&self, now: i64, batch: u32) -> Result<Purged, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        purge::purge(&mut *conn, &purge_statements!(""), now, batch).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        config::ping(&self.pool).await
    }
}
