//! The PostgreSQL backend: several server processes ("nodes") share one
//! database, so everything here must hold across processes, not just tasks.
//!
//! - PostgreSQL takes concurrent writers, so each call is one statement or
//!   one short transaction on a pooled connection; only opaque-token inserts,
//!   the hottest write, are group-committed (`tokens.rs`): a WAL flush per
//!   batch instead of per token.
//! - Single-use steps (code redemption, refresh rotation, device polls) are a
//!   conditional `UPDATE … RETURNING` or a `SELECT … FOR UPDATE` transaction:
//!   never a read, then a write, without a lock.
//! - Revocation sequence numbers come from a one-row counter that stays
//!   locked until the revoking transaction commits, so numbers are handed out
//!   in commit order: a feed reader that has seen N never later finds a
//!   smaller one appear.
//! - Cross-process signals ride on LISTEN/NOTIFY (see `listen.rs`): while the
//!   listening connection is down, [`Store::config_generation`] changes on
//!   every call, so no node trusts a cache it cannot keep fresh.
//! - Expired rows are purged by one node at a time (advisory lock), in
//!   batches chosen with `FOR UPDATE SKIP LOCKED`.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Postgres, Row};
use tessera_core::client::{Client, ClientSettings};
use tessera_core::secret::{Digest, TokenKey};
use tessera_core::store::{
    OpaqueToken, Purged, Revocation, RevocationEntry, RevokedToken, Store, StoreError, StoredKey,
};
use tessera_proto::redact_url;
use tokio::sync::watch;

mod accounts;
mod attempts;
mod device;
mod listen;
mod refresh;
mod tokens;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The advisory lock a purge holds ("tesspurg"): one node purges at a time.
const PURGE_LOCK: i64 = 0x7465_7373_7075_7267;

/// A pooled connection idle longer than this is pinged before use; others
/// are not (a ping on every checkout would double the cost of point reads).
const IDLE_PING: Duration = Duration::from_secs(30);

/// How to reach the database.
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…]`; TLS
    /// follows `sslmode` (`verify-full` for anything beyond loopback).
    pub url: String,
    pub max_connections: u32,
    pub min_connections: u32,
    /// How long a call waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// Longest a statement may run (set on every pooled connection).
    pub statement_timeout: Duration,
    /// CA certificate (PEM) for `sslmode=verify-ca|verify-full`.
    pub ssl_root_cert: Option<PathBuf>,
}

impl PgOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            min_connections: 1,
            acquire_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(5),
            ssl_root_cert: None,
        }
    }

    /// Connection options without the statement timeout (migrations must
    /// be able to wait for another node's).
    fn connect_options(&self) -> Result<PgConnectOptions, StoreError> {
        let mut o = PgConnectOptions::from_str(&self.url)
            .map_err(|e| unavailable(format!("invalid PostgreSQL URL {}: {e}", redact_url(&self.url))))?;
        if let Some(ca) = &self.ssl_root_cert {
            o = o.ssl_root_cert(ca);
        }
        if o.get_application_name().is_none() {
            o = o.application_name("tessera");
        }
        Ok(o)
    }
}

/// By hand: the URL may hold a password.
impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("ssl_root_cert", &self.ssl_root_cert)
            .finish()
    }
}

pub struct PgStore {
    pool: PgPool,
    /// Without the statement timeout; never printed (it holds the password).
    connect: PgConnectOptions,
    signals: Arc<listen::Signals>,
    listener: tokio::task::JoinHandle<()>,
    /// Opaque-token inserts, group-committed by [`tokens`] writers.
    tokens: tokio::sync::mpsc::Sender<tokens::Job>,
    writers: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("connections", &self.pool.size())
            .field("listening", &self.signals.listening())
            .finish_non_exhaustive()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // The listener task holds only the signals, never the store: stop it.
        self.listener.abort();
        for w in &self.writers {
            w.abort();
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Unique violations are conflicts; everything else (connections, pool and
/// statement timeouts, serialization failures) means the store is unavailable.
fn map_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e
        && d.is_unique_violation()
    {
        return StoreError::Conflict;
    }
    unavailable(e)
}

/// One column, any failure to read it being corruption.
fn col<'r, T>(r: &'r PgRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    r.try_get(name).map_err(corrupt)
}

fn digest_col(r: &PgRow, name: &str) -> Result<Digest, StoreError> {
    let b: Vec<u8> = col(r, name)?;
    Digest::from_slice(&b).ok_or_else(|| corrupt("digest length"))
}

/// A JSON array of strings (audiences).
fn list_col(r: &PgRow, name: &str) -> Result<Vec<String>, StoreError> {
    let s: String = col(r, name)?;
    serde_json::from_str(&s).map_err(corrupt)
}

/// Applies pending migrations on a connection of its own: the migrator's
/// advisory lock (which makes nodes starting at once take turns) belongs to
/// the session, so if a migration fails part-way the lock ends with this
/// connection instead of staying behind on a pooled one. No statement
/// timeout: waiting for another node's migration is expected.
async fn run_migrations(connect: &PgConnectOptions) -> Result<(), StoreError> {
    let mut conn = PgConnection::connect_with(&connect.clone().options([("statement_timeout", "0")]))
        .await
        .map_err(unavailable)?;
    let done = MIGRATOR.run(&mut conn).await.map_err(|e| unavailable(format!("migration failed: {e}")));
    let _ = conn.close().await;
    done
}

/// For a node that does not migrate: refuses a schema behind this code's.
async fn ensure_schema(pool: &PgPool) -> Result<(), StoreError> {
    let applied: Vec<i64> =
        match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(pool).await {
            Ok(v) => v,
            // Never migrated: every migration is pending.
            Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("42P01") => Vec::new(),
            Err(e) => return Err(unavailable(e)),
        };
    crate::schema::ensure_current(&MIGRATOR, &applied)
}

impl PgStore {
    /// Connects, applies migrations unless `migrate` is false (then refuses
    /// a database whose schema is behind), and starts listening for other
    /// nodes' changes. Safe on several nodes at once.
    pub async fn connect(opts: &PgOptions, migrate: bool) -> Result<Self, StoreError> {
        let connect = opts.connect_options()?;
        if migrate {
            run_migrations(&connect).await?;
        }
        let max = opts.max_connections.max(1);
        let timeout_ms = opts.statement_timeout.as_millis().to_string();
        let pool = PgPoolOptions::new()
            .max_connections(max)
            .min_connections(opts.min_connections.min(max))
            .acquire_timeout(opts.acquire_timeout)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > IDLE_PING {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(connect.clone().options([("statement_timeout", timeout_ms)]))
            .await
            .map_err(unavailable)?;
        if !migrate {
            ensure_schema(&pool).await?;
        }
        let signals = Arc::new(listen::Signals::new());
        // Subscribed before the first call: a fresh store is listening.
        let listener = listen::subscribe(&connect, opts.acquire_timeout).await.map_err(unavailable)?;
        let listener = tokio::spawn(listen::run(listener, connect.clone(), opts.acquire_timeout, signals.clone()));
        let (tokens, writers) = tokens::start(pool.clone());
        Ok(Self { pool, connect, signals, listener, tokens, writers })
    }

    /// Applies pending migrations (under the migrator's advisory lock, so
    /// safe while other nodes run or migrate).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        run_migrations(&self.connect).await
    }

    /// Applies pending migrations without opening a store (`tessera migrate`).
    pub async fn migrate_with(opts: &PgOptions) -> Result<(), StoreError> {
        run_migrations(&opts.connect_options()?).await
    }

    /// The pool, unless the database is known to be down (the listener
    /// cannot reconnect): then fail at once, so a request is answered 503
    /// in microseconds instead of after the acquire timeout.
    fn pool(&self) -> Result<&PgPool, StoreError> {
        if self.signals.unreachable() {
            return Err(StoreError::Unavailable("the database is unreachable".into()));
        }
        Ok(&self.pool)
    }

    /// Commits a client or key change and tells every node, this one at once
    /// and the others through `tessera_config` on commit.
    async fn commit_config(&self, mut tx: sqlx::Transaction<'_, Postgres>) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(listen::CONFIG_CHANNEL)
            .bind(self.signals.node())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let committed = tx.commit().await.map_err(map_err);
        // Also when the commit's answer was lost (it may have happened): a
        // needless cache flush is cheap, a stale cache is not.
        self.signals.config_changed();
        committed
    }
}

fn client_from_row(row: &PgRow) -> Result<Client, StoreError> {
    let settings: String = col(row, "settings")?;
    let settings: ClientSettings = serde_json::from_str(&settings).map_err(corrupt)?;
    let digest: Option<Vec<u8>> = col(row, "secret_digest")?;
    let secret_digest = match digest {
        Some(d) => Some(Digest::from_slice(&d).ok_or_else(|| corrupt("secret digest length"))?),
        None => None,
    };
    Ok(Client {
        id: col(row, "client_id")?,
        name: col(row, "name")?,
        secret_digest,
        settings,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

fn revocation_from_row(r: &PgRow) -> Result<RevocationEntry, StoreError> {
    let kind: String = col(r, "kind")?;
    let key: String = col(r, "token_key")?;
    let token = match kind.as_str() {
        "jti" => RevokedToken::Jti(key),
        "grant" => RevokedToken::Grant(key),
        "client" => RevokedToken::Client(key),
        "key" => RevokedToken::Key(key),
        _ => RevokedToken::Opaque(
            hex::decode(&key).ok().and_then(|b| Digest::from_slice(&b)).ok_or_else(|| corrupt("revocation digest"))?,
        ),
    };
    Ok(RevocationEntry {
        seq: col(r, "seq")?,
        revocation: Revocation {
            token,
            client_id: col(r, "client_id")?,
            expires_at: col(r, "expires_at")?,
            revoked_at: col(r, "revoked_at")?,
        },
    })
}

/// One batch-bounded statement of the purge (`$1` the cutoff, `$2` the batch).
async fn purge_one(conn: &mut PgConnection, sql: &'static str, cutoff: i64, batch: i64) -> Result<u64, StoreError> {
    Ok(sqlx::query(sql).bind(cutoff).bind(batch).execute(&mut *conn).await.map_err(map_err)?.rows_affected())
}

// A macro, not a const: sqlx only takes SQL fixed at compile time.

#[async_trait]
impl Store for PgStore {
    async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
        let settings = serde_json::to_string(&c.settings).map_err(unavailable)?;
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        sqlx::query(concat!("INSERT INTO clients (", client_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6)"))
            .bind(&c.id)
            .bind(&c.name)
            .bind(c.secret_digest.map(|d| d.0.to_vec()))
            .bind(settings)
            .bind(c.created_at)
            .bind(c.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        self.commit_config(tx).await
    }

    async fn get_client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", client_columns!(), " FROM clients WHERE client_id = $1"))
            .bind(id)
            .fetch_optional(self.pool()?)
            .await
            .map_err(map_err)?;
        row.as_ref().map(client_from_row).transpose()
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let rows = sqlx::query(concat!("SELECT ", client_columns!(), " FROM clients ORDER BY created_at, client_id"))
            .fetch_all(self.pool()?)
            .await
            .map_err(map_err)?;
        rows.iter().map(client_from_row).collect()
    }

    async fn set_client_secret(&self, id: &str, digest: Digest, now: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        let r = sqlx::query("UPDATE clients SET secret_digest = $1, updated_at = $2 WHERE client_id = $3")
            .bind(digest.0.to_vec())
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        self.commit_config(tx).await?;
        Ok(r.rows_affected() == 1)
    }

    async fn set_client_settings(&self, id: &str, settings: &ClientSettings, now: i64) -> Result<bool, StoreError> {
        let settings = serde_json::to_string(settings).map_err(unavailable)?;
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        let r = sqlx::query("UPDATE clients SET settings = $1, updated_at = $2 WHERE client_id = $3")
            .bind(settings)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        self.commit_config(tx).await?;
        Ok(r.rows_affected() == 1)
    }

    async fn delete_client(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        // Grants before refresh tokens, as revoking a grant does: one lock
        // order, and tokens written while the grants were locked go too.
        for sql in [
            "DELETE FROM grants WHERE client_id = $1",
            "DELETE FROM refresh_tokens WHERE client_id = $1",
            "DELETE FROM device_codes WHERE client_id = $1",
            "DELETE FROM consents WHERE client_id = $1",
            "DELETE FROM auth_codes WHERE client_id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await.map_err(map_err)?;
        }
        let r = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        self.commit_config(tx).await?;
        Ok(r.rows_affected() == 1)
    }

    async fn insert_key(&self, k: &StoredKey) -> Result<(), StoreError> {
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, sealed_private_key, created_at, activates_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&k.kid)
        .bind(&k.alg)
        .bind(&k.sealed_private_key)
        .bind(k.created_at)
        .bind(k.activates_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        self.commit_config(tx).await
    }

    async fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, alg, sealed_private_key, created_at, activates_at FROM signing_keys \
             ORDER BY activates_at, inserted",
        )
        .fetch_all(self.pool()?)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(StoredKey {
                    kid: col(r, "kid")?,
                    alg: col(r, "alg")?,
                    sealed_private_key: col(r, "sealed_private_key")?,
                    created_at: col(r, "created_at")?,
                    activates_at: col(r, "activates_at")?,
                })
            })
            .collect()
    }

    fn config_generation(&self) -> u64 {
        self.signals.config_generation()
    }

    fn revocation_signal(&self) -> Option<watch::Receiver<u64>> {
        Some(self.signals.revocation_signal())
    }

    fn shared_attempts(&self) -> Option<&dyn tessera_core::store::AttemptStore> {
        Some(self)
    }

    async fn insert_token(&self, t: &OpaqueToken) -> Result<(), StoreError> {
        self.pool()?;
        let (done, answer) = tokio::sync::oneshot::channel();
        let stopped = || unavailable("token writer stopped");
        self.tokens.send(tokens::Job { token: t.clone(), done }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    async fn find_token(&self, key: &TokenKey) -> Result<Option<OpaqueToken>, StoreError> {
        let rows = crate::columns::token_lookup(key).fetch_all(self.pool()?).await.map_err(map_err)?;
        let rows = rows.iter().map(|r| Ok((digest_col(r, "digest")?, r))).collect::<Result<Vec<_>, StoreError>>()?;
        let Some((_, r)) = crate::columns::with_key(rows, |(d, _)| *d, &key.stored()) else { return Ok(None) };
        Ok(Some(OpaqueToken {
            digest: key.sha256,
            id: key.id,
            jti: col(r, "jti")?,
            client_id: col(r, "client_id")?,
            subject: col(r, "subject")?,
            scope: col(r, "scope")?,
            audience: list_col(r, "audience")?,
            issued_at: col(r, "issued_at")?,
            expires_at: col(r, "expires_at")?,
            auth_time: col(r, "auth_time")?,
            grant_id: col(r, "grant_id")?,
        }))
    }

    async fn revoke(&self, r: &Revocation) -> Result<i64, StoreError> {
        let mut tx = self.pool()?.begin().await.map_err(map_err)?;
        let (kind, key) = match &r.token {
            RevokedToken::Jti(j) => ("jti", j.clone()),
            RevokedToken::Client(c) => ("client", c.clone()),
            RevokedToken::Key(k) => {
                sqlx::query("DELETE FROM signing_keys WHERE kid = $1")
                    .bind(k)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                ("key", k.clone())
            }
            RevokedToken::Grant(g) => {
                // The grant first: its delete waits for every refresh-token
                // write holding the grant's row (`FOR KEY SHARE`) to commit,
                // and the next statement's snapshot then sees those tokens.
                for sql in [
                    "DELETE FROM grants WHERE id = $1",
                    "WITH a AS (DELETE FROM access_tokens WHERE grant_id = $1) \
                     DELETE FROM refresh_tokens WHERE grant_id = $1",
                ] {
                    sqlx::query(sql).bind(g).execute(&mut *tx).await.map_err(map_err)?;
                }
                ("grant", g.clone())
            }
            RevokedToken::Opaque(d) => {
                sqlx::query("DELETE FROM access_tokens WHERE digest = $1")
                    .bind(&d.0[..])
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                ("opaque", d.to_hex())
            }
        };
        // The counter row stays locked until this commits: the next revoker
        // waits here, so sequence numbers are handed out in commit order.
        let seq: i64 = sqlx::query_scalar(
            "WITH c AS (UPDATE revocation_counter SET seq = seq + 1 RETURNING seq) \
             INSERT INTO revocations (seq, kind, token_key, client_id, expires_at, revoked_at) \
             SELECT seq, $1, $2, $3, $4, $5 FROM c RETURNING seq",
        )
        .bind(kind)
        .bind(key)
        .bind(&r.client_id)
        .bind(r.expires_at)
        .bind(r.revoked_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
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

    async fn revocation_head(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT seq FROM revocation_counter").fetch_one(self.pool()?).await.map_err(map_err)
    }

    async fn revocations_after(&self, after: i64, limit: u32) -> Result<Vec<RevocationEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, kind, token_key, client_id, expires_at, revoked_at FROM revocations \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(self.pool()?)
        .await
        .map_err(map_err)?;
        rows.iter().map(revocation_from_row).collect()
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
        let batch = i64::from(batch);
        let tokens = purge_one(
            &mut tx,
            "DELETE FROM access_tokens WHERE digest IN \
             (SELECT digest FROM access_tokens WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
            now,
            batch,
        )
        .await?;
        let revocations = purge_one(
            &mut tx,
            "DELETE FROM revocations WHERE seq IN \
             (SELECT seq FROM revocations WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
            now,
            batch,
        )
        .await?;
        let other = accounts::purge(&mut tx, now, batch).await?
            + refresh::purge(&mut tx, now, batch).await?
            + device::purge(&mut tx, now, batch).await?
            + attempts::purge(&mut tx, now, batch).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Purged { tokens, revocations, other })
    }

    async fn get_setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool()?)
            .await
            .map_err(map_err)
    }

    async fn put_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(crate::columns::SETTING_UPSERT)
            .bind(name)
            .bind(value)
            .execute(self.pool()?)
            .await
            .map_err(map_err)
            .map(|_| ())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.pool()?).await.map_err(map_err).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        for url in ["postgres://tessera:hunter2@db/t", "postgres://db/t?user=u&sslpassword=hunter2"] {
            let dbg = format!("{:?}", PgOptions::new(url));
            assert!(!dbg.contains("hunter2"), "{dbg}");
        }
    }
}
