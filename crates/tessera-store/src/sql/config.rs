//! Configuration records: clients, signing keys, registered scopes and
//! deployment settings. The writes here only change rows; telling running
//! servers (the configuration generation) is the backend's job, after it
//! commits.

use sqlx::Executor;
use tessera_core::client::{Client, ClientSettings};
use tessera_core::ids::ClientId;
use tessera_core::secret::Digest;
use tessera_core::store::{ScopeInfo, StoreError, StoredKey};

use super::rows::{self, client_cols};
use super::{Bind, Dialect, SqlRow, affected, map_err, query, unavailable_by};

pub(crate) async fn insert_client<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    c: &Client,
) -> Result<(), StoreError> {
    let settings = serde_json::to_string(&c.settings).map_err(|e| unavailable_by("cannot encode the settings", e))?;
    let q = query::<DB>(concat!("INSERT INTO clients (", client_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6)"))
        .arg(c.id.as_str())
        .arg(&c.name)
        .arg(c.kind.secret_digest().map(|d| d.0.to_vec()))
        .arg(settings)
        .arg(c.created_at)
        .arg(c.updated_at);
    affected(q, e).await.map(|_| ())
}

pub(crate) async fn get_client<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    id: &ClientId,
) -> Result<Option<Client>, StoreError> {
    let q = query::<DB>(concat!("SELECT ", client_cols!(), " FROM clients WHERE client_id = $1")).arg(id.as_str());
    let row = q.fetch_optional(e).await.map_err(map_err)?;
    row.as_ref().map(rows::client).transpose()
}

pub(crate) async fn list_clients<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
) -> Result<Vec<Client>, StoreError> {
    let q = query::<DB>(concat!("SELECT ", client_cols!(), " FROM clients ORDER BY created_at, client_id"));
    q.fetch_all(e).await.map_err(map_err)?.iter().map(rows::client).collect()
}

pub(crate) async fn set_client_secret<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    id: &ClientId,
    digest: Digest,
    now: i64,
) -> Result<bool, StoreError> {
    let q = query::<DB>("UPDATE clients SET secret_digest = $1, updated_at = $2 WHERE client_id = $3")
        .arg(digest.0.to_vec())
        .arg(now)
        .arg(id.as_str());
    Ok(affected(q, e).await? == 1)
}

pub(crate) async fn set_client_settings<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    id: &ClientId,
    settings: &ClientSettings,
    now: i64,
) -> Result<bool, StoreError> {
    let settings = serde_json::to_string(settings).map_err(|e| unavailable_by("cannot encode the settings", e))?;
    let q = query::<DB>("UPDATE clients SET settings = $1, updated_at = $2 WHERE client_id = $3")
        .arg(settings)
        .arg(now)
        .arg(id.as_str());
    Ok(affected(q, e).await? == 1)
}

/// The client and everything issued to it, in the caller's transaction.
/// Grants before refresh tokens, as revoking a grant does: one lock order,
/// and tokens written while the grants were locked go too.
pub(crate) async fn delete_client<DB: Dialect, C>(conn: &mut C, id: &ClientId) -> Result<bool, StoreError>
where
    for<'c> &'c mut C: Executor<'c, Database = DB>,
{
    for sql in [
        "DELETE FROM grants WHERE client_id = $1",
        "DELETE FROM refresh_tokens WHERE client_id = $1",
        "DELETE FROM device_codes WHERE client_id = $1",
        "DELETE FROM consents WHERE client_id = $1",
        "DELETE FROM auth_codes WHERE client_id = $1",
    ] {
        affected(query::<DB>(sql).arg(id.as_str()), &mut *conn).await?;
    }
    Ok(affected(query::<DB>("DELETE FROM clients WHERE client_id = $1").arg(id.as_str()), &mut *conn).await? == 1)
}

pub(crate) async fn insert_key<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    k: &StoredKey,
) -> Result<(), StoreError> {
    let q = query::<DB>(
        "INSERT INTO signing_keys (kid, alg, sealed_private_key, created_at, activates_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .arg(&k.kid)
    .arg(&k.alg)
    .arg(&k.sealed_private_key)
    .arg(k.created_at)
    .arg(k.activates_at);
    affected(q, e).await.map(|_| ())
}

/// `sql` is a [`list_keys_sql!`] naming the column that breaks ties
/// between keys activating at the same second by insertion (`rowid` on
/// SQLite, a sequence column on PostgreSQL).
pub(crate) async fn list_keys<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    sql: &'static str,
) -> Result<Vec<StoredKey>, StoreError> {
    query::<DB>(sql).fetch_all(e).await.map_err(map_err)?.iter().map(rows::key).collect()
}

/// The key listing with its tie-break column named.
macro_rules! list_keys_sql {
    ($order:literal) => {
        concat!(
            "SELECT kid, alg, sealed_private_key, created_at, activates_at FROM signing_keys ORDER BY activates_at, ",
            $order
        )
    };
}
pub(crate) use list_keys_sql;

pub(crate) async fn insert_scope<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    s: &ScopeInfo,
) -> Result<(), StoreError> {
    let q = query::<DB>("INSERT INTO scopes (name, description, created_at) VALUES ($1, $2, $3)")
        .arg(&s.name)
        .arg(&s.description)
        .arg(s.created_at);
    affected(q, e).await.map(|_| ())
}

pub(crate) async fn list_scopes<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
) -> Result<Vec<ScopeInfo>, StoreError> {
    let q = query::<DB>("SELECT name, description, created_at FROM scopes ORDER BY name");
    q.fetch_all(e).await.map_err(map_err)?.iter().map(rows::scope).collect()
}

pub(crate) async fn delete_scope<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    name: &str,
) -> Result<bool, StoreError> {
    Ok(affected(query::<DB>("DELETE FROM scopes WHERE name = $1").arg(name), e).await? == 1)
}

pub(crate) async fn get_setting<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    name: &str,
) -> Result<Option<String>, StoreError> {
    let row =
        query::<DB>("SELECT value FROM settings WHERE name = $1").arg(name).fetch_optional(e).await.map_err(map_err)?;
    row.map(|r| r.col("value")).transpose()
}

pub(crate) async fn put_setting<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    name: &str,
    value: &str,
) -> Result<(), StoreError> {
    let q = query::<DB>(
        "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .arg(name)
    .arg(value);
    affected(q, e).await.map(|_| ())
}

pub(crate) async fn ping<'c, DB: Dialect>(e: impl Executor<'c, Database = DB>) -> Result<(), StoreError> {
    affected(query::<DB>("SELECT 1"), e).await.map(|_| ())
}
