//! The PostgreSQL backend: several server processes ("nodes") share one
//! database, so everything here must hold across processes, not just tasks.
//!
//! - PostgreSQL takes concurrent writers, so each call is one statement or
//!   one short transaction on a pooled connection; the two hottest writes,
//!   opaque-token inserts and refresh rotations, are group-committed
//!   (`batch.rs`): a WAL flush per batch instead of per request.
//! - Single-use steps (code redemption, refresh rotation, device polls) are a
//!   conditional `UPDATE … RETURNING` or a `SELECT … FOR UPDATE` transaction:
//!   never a read, then a write, without a lock.
//! - Revocation sequence numbers come from a one-row counter that stays
//!   locked until the revoking transaction commits, so numbers are handed out
//!   in commit order: a feed reader that has seen N never later finds a
//!   smaller one appear.
//! - Cross-process signals ride on LISTEN/NOTIFY (see `listen.rs`): while the
//!   listening connection is down, [`StoreWide::config_generation`](tessera_core::store::StoreWide::config_generation) changes on
//!   every call, so no node trusts a cache it cannot keep fresh.
//! - Expired rows are purged by one node at a time (advisory lock), in
//!   batches chosen with `FOR UPDATE SKIP LOCKED`.
//!
//! Here: options, connecting and migrating. The store traits live one
//! group per file, as in `sqlite/` (`config.rs`, `accounts.rs`,
//! `refresh.rs`, `device.rs`, `feed.rs`), running the shared statements of
//! `crate::sql` and keeping only the single-use statements, the counter
//! and the notifications as their own; `attempts.rs` holds the shared
//! sign-in counters.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Postgres};
use tessera_core::store::StoreError;
use tessera_proto::redact_url;

mod accounts;
mod attempts;
mod batch;
mod config;
mod device;
mod feed;
mod listen;
mod refresh;
mod tokens;

pub use batch::GroupCommits;

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
            .map_err(|e| unavailable_by(format!("invalid PostgreSQL URL {}", redact_url(&self.url)), e))?;
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
    /// Opaque-token inserts and refresh rotations, group-committed ([`batch`]).
    tokens: batch::Queue<tessera_core::store::OpaqueToken, ()>,
    rotations: batch::Queue<refresh::RotateJob, tessera_core::store::Rotation>,
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
    }
}

pub(crate) use crate::sql::{map_err, unavailable, unavailable_by};

/// Applies pending migrations on a connection of its own: the migrator's
/// advisory lock (which makes nodes starting at once take turns) belongs to
/// the session, so if a migration fails part-way the lock ends with this
/// connection instead of staying behind on a pooled one. No statement
/// timeout: waiting for another node's migration is expected.
async fn run_migrations(connect: &PgConnectOptions) -> Result<(), StoreError> {
    let mut conn = PgConnection::connect_with(&connect.clone().options([("statement_timeout", "0")]))
        .await
        .map_err(|e| unavailable_by("cannot connect to migrate", e))?;
    let done = MIGRATOR.run(&mut conn).await.map_err(|e| unavailable_by("migration failed", e));
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
            Err(e) => return Err(map_err(e)),
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
            .map_err(|e| unavailable_by("cannot connect", e))?;
        if !migrate {
            ensure_schema(&pool).await?;
        }
        let signals = Arc::new(listen::Signals::new());
        // Subscribed before the first call: a fresh store is listening.
        let listener =
            listen::subscribe(&connect, opts.acquire_timeout).await.map_err(|e| unavailable_by("cannot listen", e))?;
        let listener = tokio::spawn(listen::run(listener, connect.clone(), opts.acquire_timeout, signals.clone()));
        let tokens = tokens::start(pool.clone());
        let rotations = refresh::start(pool.clone());
        Ok(Self { pool, connect, signals, listener, tokens, rotations })
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

    /// Group-commit figures of the two batched writes: opaque-token
    /// inserts and refresh rotations.
    pub fn group_commits(&self) -> (GroupCommits, GroupCommits) {
        (self.tokens.stats(), self.rotations.stats())
    }

    /// The pool, unless the database is known to be down (the listener
    /// cannot reconnect): then fail at once, so a request is answered 503
    /// in microseconds instead of after the acquire timeout.
    fn pool(&self) -> Result<&PgPool, StoreError> {
        if self.signals.unreachable() {
            return Err(unavailable("the database is unreachable"));
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

    /// A malformed URL or a refused connection: the error and every error
    /// behind it (what the log prints) name no password.
    #[tokio::test]
    async fn connection_errors_keep_their_cause_but_not_the_password() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port");
        let urls = [
            format!("postgres://u:hunter2@127.0.0.1:{}/t", closed.port()),
            "postgres://u:hunter2@db:port/t".to_string(),
            "postgres://u:hunter2%ff@db/t".to_string(),
        ];
        for url in urls {
            let opts = PgOptions { acquire_timeout: Duration::from_secs(1), ..PgOptions::new(url.as_str()) };
            let err = PgStore::connect(&opts, false).await.expect_err("cannot connect");
            let logged = tessera_core::error::chain(&err).to_string();
            assert!(std::error::Error::source(&err).is_some(), "{url}: {logged}");
            assert!(!logged.contains("hunter2") && !format!("{err:?}").contains("hunter2"), "{logged}");
        }
    }
}
