//! SQLite implementation of [`ReplayStore`]: the upsert is one job in the
//! writer's transaction, so two uses of one key cannot both insert it, and
//! `true` is answered only after the commit.

use async_trait::async_trait;
use tessera_core::store::{ReplayStore, StoreError};

use super::SqliteStore;
use crate::sql::replays;

#[async_trait]
impl ReplayStore for SqliteStore {
    async fn first_use(&self, key: &[u8; 32], expires_at: i64, now: i64) -> Result<bool, StoreError> {
        let key = *key;
        self.exec(move |conn| Box::pin(async move { replays::first_use(conn, &key, expires_at, now).await })).await
    }
}
