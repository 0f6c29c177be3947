//! SQLite: clients, signing keys, registered scopes and settings. Rare
//! writes, straight on the pool (fsynced: `synchronous=FULL` there), each
//! followed by a generation bump so running servers drop their caches.

use async_trait::async_trait;
use tessera_core::client::{Client, ClientSettings};
use tessera_core::ids::ClientId;
use tessera_core::secret::Digest;
use tessera_core::store::{ClientStore, KeyStore, ScopeInfo, ScopeStore, SettingStore, StoreError, StoredKey};

use super::{SqliteStore, map_err};
use crate::sql::config::{self as sql, list_keys_sql};

#[async_trait]
impl ClientStore for SqliteStore {
    async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
        sql::insert_client(&self.pool, c).await?;
        self.bump_generation()
    }

    async fn get_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        sql::get_client(&self.pool, id).await
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        sql::list_clients(&self.pool).await
    }

    async fn set_client_secret(&self, id: &ClientId, digest: Digest, now: i64) -> Result<bool, StoreError> {
        let found = sql::set_client_secret(&self.pool, id, digest, now).await?;
        self.bump_generation()?;
        Ok(found)
    }

    async fn set_client_settings(
        &self,
        id: &ClientId,
        settings: &ClientSettings,
        now: i64,
    ) -> Result<bool, StoreError> {
        let found = sql::set_client_settings(&self.pool, id, settings, now).await?;
        self.bump_generation()?;
        Ok(found)
    }

    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let found = sql::delete_client(&mut *tx, id).await?;
        tx.commit().await.map_err(map_err)?;
        self.bump_generation()?;
        Ok(found)
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_key(&self, k: &StoredKey) -> Result<(), StoreError> {
        sql::insert_key(&self.pool, k).await?;
        self.bump_generation()
    }

    async fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        sql::list_keys(&self.pool, list_keys_sql!("rowid")).await
    }
}

#[async_trait]
impl ScopeStore for SqliteStore {
    async fn insert_scope(&self, s: &ScopeInfo) -> Result<(), StoreError> {
        sql::insert_scope(&self.pool, s).await?;
        self.bump_generation()
    }

    async fn list_scopes(&self) -> Result<Vec<ScopeInfo>, StoreError> {
        sql::list_scopes(&self.pool).await
    }

    async fn delete_scope(&self, name: &str) -> Result<bool, StoreError> {
        let found = sql::delete_scope(&self.pool, name).await?;
        self.bump_generation()?;
        Ok(found)
    }
}

#[async_trait]
impl SettingStore for SqliteStore {
    async fn get_setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        sql::get_setting(&self.pool, name).await
    }

    async fn put_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        sql::put_setting(&self.pool, name, value).await
    }
}
