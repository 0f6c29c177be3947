//! PostgreSQL implementation of [`DeviceStore`]. A poll is one transaction
//! that first locks the code's row (`SELECT … FOR UPDATE`): the interval
//! check, the redemption and the grant's insert cannot interleave with
//! another poll of the same code on any node. Approval and denial are
//! conditional updates, atomic on their own.

use async_trait::async_trait;
use tessera_core::ids::ClientId;
use tessera_core::secret::Digest;
use tessera_core::store::{DeviceApproval, DeviceCode, DeviceStore, Poll, StoreError};

use super::{PgStore, map_err};
use crate::sql::device::{self as sql, poll_select};

#[async_trait]
impl DeviceStore for PgStore {
    async fn insert_device(&self, d: &DeviceCode) -> Result<(), StoreError> {
        sql::insert_device(self.pool()?, d).await
    }

    async fn find_device(&self, user_digest: &Digest, now: i64) -> Result<Option<DeviceCode>, StoreError> {
        sql::find_device(self.pool()?, user_digest, now).await
    }

    async fn decide_device(
        &self,
        user_digest: &Digest,
        now: i64,
        approval: Option<DeviceApproval>,
    ) -> Result<bool, StoreError> {
        sql::decide_device(self.pool()?, user_digest, now, approval).await
    }

    async fn poll_device(
        &self,
        device_digest: &Digest,
        client_id: &ClientId,
        now: i64,
        grant_expires_at: i64,
    ) -> Result<Poll, StoreError> {
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        // Concurrent polls of this code wait on the row lock until this one
        // commits. On an error the transaction is dropped: rolled back, nothing spent.
        let select = poll_select!(" FOR UPDATE");
        let poll = sql::poll(&mut *tx, select, device_digest, client_id, now, grant_expires_at).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(poll)
    }
}
