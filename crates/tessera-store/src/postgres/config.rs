//! PostgreSQL: clients, signing keys, registered scopes and settings. A
//! configuration write is a transaction that also sends `tessera_config`,
//! delivered to every node when, and only if, it commits.

use async_trait::async_trait;
use tessera_core::client::{Client, ClientSettings};
use tessera_core::ids::ClientId;
use tessera_core::secret::Digest;
use tessera_core::store::{ClientStore, KeyStore, ScopeInfo, ScopeStore, SettingStore, StoreError, StoredKey};

use super::{PgStore, map_err};
use crate::sql::config::{self as sql, list_keys_sql};

#[async_trait]
impl ClientStore for PgStore {
    async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        sql::insert_client(&mut *tx, c).await?;
        self.commit_config(tx).await
    }

    async fn get_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        sql::get_client(self.pool()?, id).await
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        sql::list_clients(self.pool()?).await
    }

    async fn set_client_secret(&self, id: &ClientId, digest: Digest, now: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        let found = sql::set_client_secret(&mut *tx, id, digest, now).await?;
        self.commit_config(tx).await?;
        Ok(found)
    }

    async fn set_client_settings(
        &self,
        id: &ClientId,
        settings: &ClientSettings,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        let found = sql::set_client_settings(&mut *tx, id, settings, now).await?;
        self.commit_config(tx).await?;
        Ok(found)
    }

    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        let found = sql::delete_client(&mut *tx, id).await?;
        self.commit_config(tx).await?;
        Ok(found)
    }
}

#[async_trait]
impl KeyStore for PgStore {
    async fn insert_key(&self, k: &StoredKey) -> Result<(), StoreError> {
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        sql::insert_key(&mut *tx, k).await?;
        self.commit_config(tx).await
    }

    async fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        sql::list_keys(self.pool()?, list_keys_sql!("inserted")).await
    }
}

#[async_trait]
impl ScopeStore for PgStore {
    async fn insert_scope(&self, s: &ScopeInfo) -> Result<(), StoreError> {
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        sql::insert_scope(&mut *tx, s).await?;
        self.commit_config(tx).await
    }

    async fn list_scopes(&self) -> Result<Vec<ScopeInfo>, StoreError> {
        sql::list_scopes(self.pool()?).await
    }

    async fn delete_scope(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        let found = sql::delete_scope(&mut *tx, name).await?;
        self.commit_config(tx).await?;
        Ok(found)
    }
}

#[async_trait]
impl SettingStore for PgStore {
    async fn get_setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        sql::get_setting(self.pool()?, name).await
    }

    async fn put_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        sql::put_setting(self.pool()?, name, value).await
    }
}
