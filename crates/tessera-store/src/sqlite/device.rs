//! SQLite implementation of [`DeviceStore`]. A poll is one job in the
//! writer's transaction: the interval check, the redemption and the grant
//! insert cannot interleave with another poll.

use async_trait::async_trait;
use tessera_core::ids::ClientId;
use tessera_core::secret::Digest;
use tessera_core::store::{DeviceApproval, DeviceCode, DeviceStore, Poll, StoreError};

use super::SqliteStore;
use crate::sql::device::{self as sql, poll_select};

#[async_trait]
impl DeviceStore for SqliteStore {
    async fn insert_device(&self, d: &DeviceCode) -> Result<(), StoreError> {
        let d = d.clone();
        self.exec(move |conn| Box::pin(async move { sql::insert_device(conn, &d).await })).await
    }

    async fn find_device(&self, user_digest: &Digest, now: i64) -> Result<Option<DeviceCode>, StoreError> {
        sql::find_device(&self.pool, user_digest, now).await
    }

    async fn decide_device(
        &self,
        user_digest: &Digest,
        now: i64,
        approval: Option<DeviceApproval>,
    ) -> Result<bool, StoreError> {
        let d = *user_digest;
        self.exec(move |conn| Box::pin(async move { sql::decide_device(conn, &d, now, approval).await })).await
    }

    async fn poll_device(
        &self,
        device_digest: &Digest,
        client_id: &ClientId,
        now: i64,
        grant_expires_at: i64,
    ) -> Result<Poll, StoreError> {
        let (d, client_id) = (*device_digest, client_id.clone());
        self.exec(move |conn| {
            Box::pin(async move { sql::poll(conn, poll_select!(""), &d, &client_id, now, grant_expires_at).await })
        })
        .await
    }
}
