//! The embedded SQLite backend (the default).
//!
//! - WAL mode: readers never block the writer, and a committed transaction
//!   survives `kill -9` (with `synchronous=FULL`, also power loss).
//! - Group commit: token and revocation writes from all requests go to one
//!   writer task, which commits whatever has queued up in one transaction and
//!   only then answers each caller. Throughput without answering early.
//! - Client and key changes append a byte to `<db>.generation`; its size is
//!   [`Store::config_generation`], which a running server checks (one `stat`)
//!   before trusting its caches, so a CLI change is seen at once.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, Row, SqlitePool};
use tessera_core::client::{Client, ClientSettings};
use tessera_core::secret::{Digest, TokenKey};
use tessera_core::store::{
    OpaqueToken, Purged, Revocation, RevocationEntry, RevokedToken, Store, StoreError, StoredKey,
};
use tokio::sync::{mpsc, oneshot};

mod accounts;
mod backup;
mod device;
mod refresh;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Most writes one transaction commits.
const MAX_BATCH: usize = 1024;

/// When a commit is fsynced. Every mode survives `kill -9`: in WAL mode a
/// commit is in the operating system's hands before it returns. The modes
/// differ only on power loss or a kernel crash.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// fsync every commit.
    Full,
    /// fsync every commit that holds a revocation (and, as the WAL is
    /// sequential, everything committed before it); token issuance is
    /// crash-safe and reaches the disk with the next fsync or checkpoint.
    /// A token lost to power loss costs its client one new token request; a
    /// lost revocation would let a stolen token live, so that never happens.
    #[default]
    Revocations,
    /// fsync only at checkpoints.
    Normal,
}

impl Durability {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Some(Self::Full),
            "revocations" => Some(Self::Revocations),
            "normal" => Some(Self::Normal),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub path: PathBuf,
    pub durability: Durability,
    pub read_connections: u32,
    /// How long a write waits for another process's lock before failing.
    pub busy_timeout: Duration,
}

impl SqliteOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            durability: Durability::default(),
            read_connections: 4,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

enum Op {
    InsertToken(Box<OpaqueToken>),
    Revoke(Revocation),
}

struct Job {
    op: Op,
    done: oneshot::Sender<Result<i64, StoreError>>,
}

/// What the writer task receives.
enum Msg {
    Job(Job),
    /// Any other write, run inside the batch's transaction; it answers its
    /// caller itself once the commit's fate is known.
    Exec(accounts::WriteFn),
}

pub struct SqliteStore {
    pool: SqlitePool,
    /// One held connection for the hottest point reads (refresh rotation):
    /// taking a pooled connection costs several times the query itself.
    hot: tokio::sync::Mutex<SqliteConnection>,
    writer: mpsc::Sender<Msg>,
    generation_path: PathBuf,
    /// Held open: `fstat` on it is cheaper than `stat` by path on every request.
    generation_file: std::fs::File,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("generation_path", &self.generation_path).finish()
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn map_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e
        && d.is_unique_violation()
    {
        return StoreError::Conflict;
    }
    unavailable(e)
}

impl SqliteStore {
    /// Opens (creating if needed) the database, applies migrations unless
    /// `migrate` is false, and starts the writer task.
    pub async fn open(opts: &SqliteOptions, migrate: bool) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str("sqlite://")
            .map_err(unavailable)?
            .filename(&opts.path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Configuration writes (clients, keys) are rare: always fsynced.
            .synchronous(SqliteSynchronous::Full)
            // Checkpoints run in their own task, never in a committing request's path.
            .pragma("wal_autocheckpoint", "0")
            // A reset WAL is cut back to this size, so it never holds disk for long.
            .pragma("journal_size_limit", "67108864")
            // Statement journals (multi-row inserts inside a batch) stay in memory.
            .pragma("temp_store", "MEMORY")
            .busy_timeout(opts.busy_timeout)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(opts.read_connections.max(1))
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(connect.clone())
            .await
            .map_err(unavailable)?;
        if migrate {
            MIGRATOR.run(&pool).await.map_err(unavailable)?;
        } else {
            let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&pool)
                .await
                .unwrap_or_default();
            crate::schema::ensure_current(&MIGRATOR, &applied)?;
        }
        let writer_sync = match opts.durability {
            Durability::Full => SqliteSynchronous::Full,
            Durability::Revocations | Durability::Normal => SqliteSynchronous::Normal,
        };
        let conn =
            SqliteConnection::connect_with(&connect.clone().synchronous(writer_sync)).await.map_err(unavailable)?;
        let (tx, rx) = mpsc::channel(8 * MAX_BATCH);
        tokio::spawn(writer(conn, rx, opts.durability));
        // A checkpoint may legitimately take long under load: not worth a warning.
        let checkpointer_opts = connect
            .clone()
            .busy_timeout(Duration::from_millis(20))
            .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
        let checkpointer = SqliteConnection::connect_with(&checkpointer_opts).await.map_err(unavailable)?;
        tokio::spawn(checkpoint(checkpointer, wal_path(&opts.path), tx.downgrade()));
        let generation_path = generation_path(&opts.path);
        let generation_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&generation_path)
            .map_err(|e| unavailable(format!("cannot open {}: {e}", generation_path.display())))?;
        let hot = tokio::sync::Mutex::new(SqliteConnection::connect_with(&connect).await.map_err(unavailable)?);
        Ok(Self { pool, hot, writer: tx, generation_path, generation_file })
    }

    async fn submit(&self, op: Op) -> Result<i64, StoreError> {
        let (done, rx) = oneshot::channel();
        self.writer.send(Msg::Job(Job { op, done })).await.map_err(|_| unavailable("writer stopped"))?;
        rx.await.map_err(|_| unavailable("writer stopped"))?
    }

    /// Tells running servers (in any process) that clients or keys changed.
    fn bump_generation(&self) -> Result<(), StoreError> {
        // O_APPEND: concurrent writers in other processes each add their byte.
        (&self.generation_file)
            .write_all(b".")
            .map_err(|e| unavailable(format!("committed, but could not signal running servers: {e}")))
    }
}

/// Past this size the checkpointer resets the WAL.
const WAL_RESTART_BYTES: u64 = 32 << 20;

fn wal_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
}

fn generation_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".generation");
    PathBuf::from(p)
}

/// Copies committed WAL frames into the database file four times a second
/// with PASSIVE checkpoints, which never wait for, nor block, the writer or
/// readers, and keeps the WAL bounded. Runs until the store is dropped.
async fn checkpoint(mut conn: SqliteConnection, wal_path: PathBuf, alive: mpsc::WeakSender<Msg>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if alive.upgrade().is_none() {
            return;
        }
        if let Err(e) = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").await {
            tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
            continue;
        }
        // Under continuous writes PASSIVE never quite catches up; past this size
        // a RESTART waits (briefly: short busy timeout) for a gap between two
        // batches, copies the remainder and lets the next commit restart the WAL.
        if std::fs::metadata(&wal_path).map(|m| m.len()).unwrap_or(0) > WAL_RESTART_BYTES
            && let Err(e) = conn.execute("PRAGMA wal_checkpoint(RESTART)").await
        {
            tracing::debug!(error = %e, "WAL restart did not find a gap; will retry");
        }
    }
}

async fn writer(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Msg>, durability: Durability) {
    let mut synced = durability == Durability::Full;
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut execs: Vec<accounts::WriteFn> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(m) = next.take() {
            match m {
                Msg::Job(j) => jobs.push(j),
                Msg::Exec(f) => execs.push(f),
            }
            if jobs.len() + execs.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        // Revocations are fsynced under `Durability::Revocations`.
        if durability == Durability::Revocations {
            let want = jobs.iter().any(|j| matches!(j.op, Op::Revoke(_)));
            if want != synced {
                let pragma = if want { "PRAGMA synchronous = FULL" } else { "PRAGMA synchronous = NORMAL" };
                if let Err(e) = conn.execute(pragma).await {
                    fail_all(&mut jobs, &mut execs, &unavailable(e));
                    continue;
                }
                synced = want;
            }
        }
        let (results, finishers, committed) = commit_batch(&mut conn, &jobs, std::mem::take(&mut execs)).await;
        for (job, r) in jobs.drain(..).zip(results) {
            let _ = job.done.send(r);
        }
        for f in finishers {
            f(committed.clone());
        }
    }
}

/// Dropping an unrun [`Msg::Exec`] drops its reply channel: its caller sees an error.
fn fail_all(jobs: &mut Vec<Job>, execs: &mut Vec<accounts::WriteFn>, e: &StoreError) {
    execs.clear();
    for job in jobs.drain(..) {
        let _ = job.done.send(Err(e.clone()));
    }
}

/// Token inserts go in multi-row statements of these sizes (largest first),
/// so a batch costs a handful of statements, each prepared once and cached.
const CHUNKS: [usize; 4] = [64, 16, 4, 1];
const TOKEN_COLUMNS: usize = 10;

static INSERT_TOKENS_SQL: LazyLock<Vec<(usize, Arc<str>)>> = LazyLock::new(|| {
    CHUNKS
        .iter()
        .map(|&n| {
            let rows: Vec<String> = (0..n)
                .map(|r| {
                    let p: Vec<String> = (1..=TOKEN_COLUMNS).map(|c| format!("${}", r * TOKEN_COLUMNS + c)).collect();
                    format!("({})", p.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO access_tokens (digest, jti, client_id, subject, scope, audience, issued_at, expires_at, \
                 auth_time, grant_id) VALUES {}",
                rows.join(", ")
            );
            (n, Arc::from(sql))
        })
        .collect()
});

type Finisher = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// One transaction for the whole batch. A failing statement fails only its
/// own jobs (SQLite rolls back just that statement; a failed multi-row insert
/// is retried row by row; a [`Msg::Exec`] job orders its statements so that
/// stopping part-way promises nothing); a
/// failed COMMIT fails all.
async fn commit_batch(
    conn: &mut SqliteConnection,
    jobs: &[Job],
    execs: Vec<accounts::WriteFn>,
) -> (Vec<Result<i64, StoreError>>, Vec<Finisher>, Result<(), StoreError>) {
    let mut finishers: Vec<Finisher> = Vec::new();
    if let Err(e) = conn.execute("BEGIN IMMEDIATE").await {
        return (jobs.iter().map(|_| Err(unavailable(&e))).collect(), finishers, Err(unavailable(&e)));
    }
    let mut results: Vec<Result<i64, StoreError>> = jobs.iter().map(|_| Ok(0)).collect();
    let tokens: Vec<(usize, &OpaqueToken)> = jobs
        .iter()
        .enumerate()
        .filter_map(|(i, j)| match &j.op {
            Op::InsertToken(t) => Some((i, &**t)),
            Op::Revoke(_) => None,
        })
        .collect();
    let mut rest = &tokens[..];
    while !rest.is_empty() {
        let (n, sql) =
            INSERT_TOKENS_SQL.iter().find(|(n, _)| *n <= rest.len()).map_or((1, None), |(n, s)| (*n, Some(s)));
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let ok = match sql {
            Some(sql) => insert_tokens(conn, sql, chunk).await.is_ok(),
            None => false,
        };
        if !ok {
            for (i, t) in chunk {
                results[*i] = insert_tokens(conn, &INSERT_TOKENS_SQL[CHUNKS.len() - 1].1, &[(*i, *t)]).await;
            }
        }
    }
    for (i, job) in jobs.iter().enumerate() {
        if let Op::Revoke(r) = &job.op {
            results[i] = revoke_one(conn, r).await;
        }
    }
    for f in execs {
        finishers.push(accounts::run_exec(conn, f).await);
    }
    if let Err(e) = conn.execute("COMMIT").await {
        let _ = conn.execute("ROLLBACK").await;
        return (jobs.iter().map(|_| Err(unavailable(&e))).collect(), finishers, Err(unavailable(&e)));
    }
    (results, finishers, Ok(()))
}

async fn insert_tokens(
    conn: &mut SqliteConnection,
    sql: &Arc<str>,
    rows: &[(usize, &OpaqueToken)],
) -> Result<i64, StoreError> {
    let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
    for (_, t) in rows {
        let aud = serde_json::to_string(&t.audience).map_err(unavailable)?;
        q = q
            .bind(TokenKey { id: t.id, sha256: t.digest }.stored().0.to_vec())
            .bind(t.jti.clone())
            .bind(t.client_id.clone())
            .bind(t.subject.clone())
            .bind(t.scope.clone())
            .bind(aud)
            .bind(t.issued_at)
            .bind(t.expires_at)
            .bind(t.auth_time)
            .bind(t.grant_id.clone());
    }
    q.execute(&mut *conn).await.map_err(map_err)?;
    Ok(0)
}

async fn revoke_one(conn: &mut SqliteConnection, r: &Revocation) -> Result<i64, StoreError> {
    let (kind, key) = match &r.token {
        RevokedToken::Jti(j) => ("jti", j.clone()),
        RevokedToken::Client(c) => ("client", c.clone()),
        RevokedToken::Key(k) => {
            sqlx::query("DELETE FROM signing_keys WHERE kid = $1")
                .bind(k)
                .execute(&mut *conn)
                .await
                .map_err(map_err)?;
            ("key", k.clone())
        }
        RevokedToken::Grant(g) => {
            for sql in [
                "DELETE FROM access_tokens WHERE grant_id = $1",
                "DELETE FROM refresh_tokens WHERE grant_id = $1",
                "DELETE FROM grants WHERE id = $1",
            ] {
                sqlx::query(sql).bind(g).execute(&mut *conn).await.map_err(map_err)?;
            }
            ("grant", g.clone())
        }
        RevokedToken::Opaque(d) => {
            sqlx::query("DELETE FROM access_tokens WHERE digest = $1")
                .bind(&d.0[..])
                .execute(&mut *conn)
                .await
                .map_err(map_err)?;
            ("opaque", d.to_hex())
        }
    };
    let done = sqlx::query(
        "INSERT INTO revocations (kind, token_key, client_id, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(kind)
    .bind(key)
    .bind(&r.client_id)
    .bind(r.expires_at)
    .bind(r.revoked_at)
    .execute(&mut *conn)
    .await
    .map_err(map_err)?;
    Ok(done.last_insert_rowid())
}

fn client_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Client, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
    let settings: String = row.try_get("settings").map_err(|e| corrupt(&e))?;
    let settings: ClientSettings = serde_json::from_str(&settings).map_err(|e| corrupt(&e))?;
    let digest: Option<Vec<u8>> = row.try_get("secret_digest").map_err(|e| corrupt(&e))?;
    let secret_digest = match digest {
        Some(d) => Some(Digest::from_slice(&d).ok_or_else(|| corrupt(&"secret digest length"))?),
        None => None,
    };
    Ok(Client {
        id: row.try_get("client_id").map_err(|e| corrupt(&e))?,
        name: row.try_get("name").map_err(|e| corrupt(&e))?,
        secret_digest,
        settings,
        created_at: row.try_get("created_at").map_err(|e| corrupt(&e))?,
        updated_at: row.try_get("updated_at").map_err(|e| corrupt(&e))?,
    })
}

// A macro, not a const: sqlx only takes SQL fixed at compile time.

#[async_trait]
impl Store for SqliteStore {
    async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
        let settings = serde_json::to_string(&c.settings).map_err(unavailable)?;
        sqlx::query(concat!("INSERT INTO clients (", client_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6)"))
            .bind(&c.id)
            .bind(&c.name)
            .bind(c.secret_digest.map(|d| d.0.to_vec()))
            .bind(settings)
            .bind(c.created_at)
            .bind(c.updated_at)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        self.bump_generation()
    }

    async fn get_client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", client_columns!(), " FROM clients WHERE client_id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(client_from_row).transpose()
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let rows = sqlx::query(concat!("SELECT ", client_columns!(), " FROM clients ORDER BY created_at, client_id"))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter().map(client_from_row).collect()
    }

    async fn set_client_secret(&self, id: &str, digest: Digest, now: i64) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE clients SET secret_digest = $1, updated_at = $2 WHERE client_id = $3")
            .bind(digest.0.to_vec())
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        self.bump_generation()?;
        Ok(r.rows_affected() == 1)
    }

    async fn set_client_settings(&self, id: &str, settings: &ClientSettings, now: i64) -> Result<bool, StoreError> {
        let settings = serde_json::to_string(settings).map_err(unavailable)?;
        let r = sqlx::query("UPDATE clients SET settings = $1, updated_at = $2 WHERE client_id = $3")
            .bind(settings)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        self.bump_generation()?;
        Ok(r.rows_affected() == 1)
    }

    async fn delete_client(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
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
        tx.commit().await.map_err(map_err)?;
        self.bump_generation()?;
        Ok(r.rows_affected() == 1)
    }

    async fn insert_key(&self, k: &StoredKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, sealed_private_key, created_at, activates_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&k.kid)
        .bind(&k.alg)
        .bind(&k.sealed_private_key)
        .bind(k.created_at)
        .bind(k.activates_at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        self.bump_generation()
    }

    async fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, alg, sealed_private_key, created_at, activates_at FROM signing_keys \
             ORDER BY activates_at, rowid",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(StoredKey {
                    kid: r.try_get("kid").map_err(map_err)?,
                    alg: r.try_get("alg").map_err(map_err)?,
                    sealed_private_key: r.try_get("sealed_private_key").map_err(map_err)?,
                    created_at: r.try_get("created_at").map_err(map_err)?,
                    activates_at: r.try_get("activates_at").map_err(map_err)?,
                })
            })
            .collect()
    }

    fn config_generation(&self) -> u64 {
        self.generation_file.metadata().map(|m| m.len()).unwrap_or(0)
    }

    async fn insert_token(&self, token: &OpaqueToken) -> Result<(), StoreError> {
        self.submit(Op::InsertToken(Box::new(token.clone()))).await.map(|_| ())
    }

    async fn find_token(&self, key: &TokenKey) -> Result<Option<OpaqueToken>, StoreError> {
        let rows = crate::columns::token_lookup(key).fetch_all(&self.pool).await.map_err(map_err)?;
        let rows = rows
            .iter()
            .map(|r| {
                let d: Vec<u8> = r.try_get("digest").map_err(map_err)?;
                let d = Digest::from_slice(&d).ok_or_else(|| StoreError::Corrupt("token digest length".into()))?;
                Ok((d, r))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let Some((_, r)) = crate::columns::with_key(rows, |(d, _)| *d, &key.stored()) else { return Ok(None) };
        let aud: String = r.try_get("audience").map_err(map_err)?;
        Ok(Some(OpaqueToken {
            digest: key.sha256,
            id: key.id,
            jti: r.try_get("jti").map_err(map_err)?,
            client_id: r.try_get("client_id").map_err(map_err)?,
            subject: r.try_get("subject").map_err(map_err)?,
            scope: r.try_get("scope").map_err(map_err)?,
            audience: serde_json::from_str(&aud).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            issued_at: r.try_get("issued_at").map_err(map_err)?,
            expires_at: r.try_get("expires_at").map_err(map_err)?,
            auth_time: r.try_get("auth_time").map_err(map_err)?,
            grant_id: r.try_get("grant_id").map_err(map_err)?,
        }))
    }

    async fn revoke(&self, revocation: &Revocation) -> Result<i64, StoreError> {
        let seq = self.submit(Op::Revoke(revocation.clone())).await?;
        if matches!(revocation.token, RevokedToken::Key(_)) {
            // The key was deleted: running servers reload their keys.
            self.bump_generation()?;
        }
        Ok(seq)
    }

    async fn revocation_head(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'revocations'")
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(seq.unwrap_or(0))
    }

    async fn revocations_after(&self, after: i64, limit: u32) -> Result<Vec<RevocationEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, kind, token_key, client_id, expires_at, revoked_at FROM revocations \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind").map_err(map_err)?;
                let key: String = r.try_get("token_key").map_err(map_err)?;
                let token = match kind.as_str() {
                    "jti" => RevokedToken::Jti(key),
                    "grant" => RevokedToken::Grant(key),
                    "client" => RevokedToken::Client(key),
                    "key" => RevokedToken::Key(key),
                    _ => RevokedToken::Opaque(
                        hex::decode(&key)
                            .ok()
                            .and_then(|b| Digest::from_slice(&b))
                            .ok_or_else(|| StoreError::Corrupt("revocation digest".into()))?,
                    ),
                };
                Ok(RevocationEntry {
                    seq: r.try_get("seq").map_err(map_err)?,
                    revocation: Revocation {
                        token,
                        client_id: r.try_get("client_id").map_err(map_err)?,
                        expires_at: r.try_get("expires_at").map_err(map_err)?,
                        revoked_at: r.try_get("revoked_at").map_err(map_err)?,
                    },
                })
            })
            .collect()
    }

    async fn purge_expired(&self, now: i64, batch: u32) -> Result<Purged, StoreError> {
        let tokens = sqlx::query(
            "DELETE FROM access_tokens WHERE digest IN \
             (SELECT digest FROM access_tokens WHERE expires_at <= $1 LIMIT $2)",
        )
        .bind(now)
        .bind(i64::from(batch))
        .execute(&self.pool)
        .await
        .map_err(map_err)?
        .rows_affected();
        let revocations = sqlx::query(
            "DELETE FROM revocations WHERE seq IN (SELECT seq FROM revocations WHERE expires_at <= $1 LIMIT $2)",
        )
        .bind(now)
        .bind(i64::from(batch))
        .execute(&self.pool)
        .await
        .map_err(map_err)?
        .rows_affected();
        let other = accounts::purge(&self.pool, now, batch).await?
            + refresh::purge(&self.pool, now, batch).await?
            + device::purge(&self.pool, now, batch).await?;
        Ok(Purged { tokens, revocations, other })
    }

    async fn get_setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn put_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(crate::columns::SETTING_UPSERT)
            .bind(name)
            .bind(value)
            .execute(&self.pool)
            .await
            .map_err(map_err)
            .map(|_| ())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_err).map(|_| ())
    }
}
