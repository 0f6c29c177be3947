//! The embedded SQLite backend (the default).
//!
//! - WAL mode: readers never block the writer, and a committed transaction
//!   survives `kill -9` (with `synchronous=FULL`, also power loss).
//! - Group commit: token and revocation writes from all requests go to one
//!   writer task, which commits whatever has queued up in one transaction and
//!   only then answers each caller. Throughput without answering early.
//! - Client and key changes append a byte to `<db>.generation`; its size is
//!   [`StoreWide::config_generation`](tessera_core::store::StoreWide::config_generation), which a running server checks (one `stat`)
//!   before trusting its caches, so a CLI change is seen at once.
//!
//! Here: options, opening, the writer task (group commit, fsync policy) and
//! the checkpointer. The store traits live one group per file (`config.rs`,
//! `accounts.rs`, `refresh.rs`, `device.rs`, `feed.rs`, `replays.rs`) and mostly run the
//! shared statements of `crate::sql`; `exec.rs` queues other writes into
//! the writer's batch; `backup.rs` is `tessera backup`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, SqlitePool};
use tessera_core::store::{OpaqueToken, Revocation, StoreError};
use tokio::sync::{mpsc, oneshot};

mod accounts;
mod backup;
mod config;
mod device;
mod exec;
mod feed;
mod refresh;
mod replays;

pub(crate) use crate::sql::{json_list, map_err, unavailable, unavailable_by};

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
    Exec(exec::WriteFn),
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

impl SqliteStore {
    /// Opens (creating if needed) the database, applies migrations unless
    /// `migrate` is false, and starts the writer task.
    pub async fn open(opts: &SqliteOptions, migrate: bool) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| unavailable_by("cannot build connection options", e))?
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
            .map_err(|e| unavailable_by(format!("cannot open {}", opts.path.display()), e))?;
        if migrate {
            MIGRATOR.run(&pool).await.map_err(|e| unavailable_by("migration failed", e))?;
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
        let conn = SqliteConnection::connect_with(&connect.clone().synchronous(writer_sync))
            .await
            .map_err(|e| unavailable_by("cannot open the writer's connection", e))?;
        let (tx, rx) = mpsc::channel(8 * MAX_BATCH);
        tokio::spawn(writer(conn, rx, opts.durability));
        // A checkpoint may legitimately take long under load: not worth a warning.
        let checkpointer_opts = connect
            .clone()
            .busy_timeout(Duration::from_millis(20))
            .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
        let checkpointer = SqliteConnection::connect_with(&checkpointer_opts)
            .await
            .map_err(|e| unavailable_by("cannot open the checkpointer's connection", e))?;
        tokio::spawn(checkpoint(checkpointer, wal_path(&opts.path), tx.downgrade()));
        let generation_path = generation_path(&opts.path);
        let generation_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&generation_path)
            .map_err(|e| unavailable_by(format!("cannot open {}", generation_path.display()), e))?;
        let hot = SqliteConnection::connect_with(&connect).await.map_err(|e| unavailable_by("cannot connect", e))?;
        let hot = tokio::sync::Mutex::new(hot);
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
            .map_err(|e| unavailable_by("committed, but could not signal running servers", e))
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
    let mut execs: Vec<exec::WriteFn> = Vec::new();
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
                    fail_all(&mut jobs, &mut execs, &map_err(e));
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
fn fail_all(jobs: &mut Vec<Job>, execs: &mut Vec<exec::WriteFn>, e: &StoreError) {
    execs.clear();
    for job in jobs.drain(..) {
        let _ = job.done.send(Err(e.clone()));
    }
}

/// Token inserts go in multi-row statements of these sizes (largest first),
/// so a batch costs a handful of statements, each prepared once and cached.
const CHUNKS: [usize; 4] = [64, 16, 4, 1];
const TOKEN_COLUMNS: usize = 11;

/// A batch of token inserts alone, up to this many, is one statement of
/// its exact size in autocommit: one trip to SQLite's thread, not
/// `BEGIN`, the chunks and `COMMIT` (each a context switch).
const ONE_STATEMENT: usize = 64;

static INSERT_TOKENS_SQL: LazyLock<Vec<(usize, Arc<str>)>> =
    LazyLock::new(|| CHUNKS.iter().map(|&n| (n, insert_tokens_sql(n))).collect());

/// The insert of exactly `n` tokens, for `n` in `1..=ONE_STATEMENT` (index `n - 1`).
static INSERT_EXACT_SQL: LazyLock<Vec<Arc<str>>> =
    LazyLock::new(|| (1..=ONE_STATEMENT).map(insert_tokens_sql).collect());

fn insert_tokens_sql(n: usize) -> Arc<str> {
    // Anonymous `?` parameters: sqlx looks each numbered one up by name, and
    // SQLite finds a name by a linear scan, so 640 `$N` cost a quadratic
    // 200,000 steps a statement (4 % of the CPU under load).
    let row = format!("({})", ["?"; TOKEN_COLUMNS].join(", "));
    let sql = format!(
        "INSERT INTO access_tokens (digest, jti, client_id, subject, scope, audience, issued_at, expires_at, \
         auth_time, grant_id, jkt) VALUES {}",
        vec![row; n].join(", ")
    );
    Arc::from(sql)
}

type Finisher = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// One transaction for the whole batch. A failing statement fails only its
/// own jobs (SQLite rolls back just that statement; a failed multi-row insert
/// is retried row by row; a [`Msg::Exec`] job orders its statements so that
/// stopping part-way promises nothing); a
/// failed COMMIT fails all.
async fn commit_batch(
    conn: &mut SqliteConnection,
    jobs: &[Job],
    execs: Vec<exec::WriteFn>,
) -> (Vec<Result<i64, StoreError>>, Vec<Finisher>, Result<(), StoreError>) {
    let mut finishers: Vec<Finisher> = Vec::new();
    if let Some(results) = insert_alone(conn, jobs, execs.is_empty()).await {
        return (results, finishers, Ok(()));
    }
    if let Err(e) = conn.execute("BEGIN IMMEDIATE").await {
        let e = map_err(e);
        return (jobs.iter().map(|_| Err(e.clone())).collect(), finishers, Err(e));
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
        finishers.push(exec::run_exec(conn, f).await);
    }
    if let Err(e) = conn.execute("COMMIT").await {
        let _ = conn.execute("ROLLBACK").await;
        let e = map_err(e);
        return (jobs.iter().map(|_| Err(e.clone())).collect(), finishers, Err(e));
    }
    (results, finishers, Ok(()))
}

/// A batch of token inserts alone, at most [`ONE_STATEMENT`]: one statement
/// in autocommit (atomic and durable as the batch's transaction would be).
/// Should it fail, each token is tried alone, so one bad row fails only its
/// own job. `None`: not such a batch.
async fn insert_alone(
    conn: &mut SqliteConnection,
    jobs: &[Job],
    no_execs: bool,
) -> Option<Vec<Result<i64, StoreError>>> {
    if !no_execs || jobs.is_empty() || jobs.len() > ONE_STATEMENT {
        return None;
    }
    let tokens = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| match &j.op {
            Op::InsertToken(t) => Some((i, &**t)),
            Op::Revoke(_) => None,
        })
        .collect::<Option<Vec<_>>>()?;
    let sql = INSERT_EXACT_SQL.get(tokens.len() - 1)?;
    if insert_tokens(conn, sql, &tokens).await.is_ok() {
        return Some(tokens.iter().map(|_| Ok(0)).collect());
    }
    let mut results = Vec::with_capacity(tokens.len());
    for t in &tokens {
        results.push(insert_tokens(conn, &INSERT_EXACT_SQL[0], &[*t]).await);
    }
    Some(results)
}

async fn insert_tokens(
    conn: &mut SqliteConnection,
    sql: &Arc<str>,
    rows: &[(usize, &OpaqueToken)],
) -> Result<i64, StoreError> {
    let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
    for (_, t) in rows {
        let aud = json_list(&t.audience)?;
        q = q
            .bind(tessera_core::secret::TokenKey { id: t.id, sha256: t.digest }.stored().0.to_vec())
            .bind(t.jti.clone())
            .bind(t.client_id.to_string())
            .bind(t.subject.clone())
            .bind(t.scope.to_string())
            .bind(aud)
            .bind(t.issued_at)
            .bind(t.expires_at)
            .bind(t.auth_time)
            .bind(t.grant_id.clone())
            .bind(t.jkt.clone());
    }
    q.execute(&mut *conn).await.map_err(map_err)?;
    Ok(0)
}

async fn revoke_one(conn: &mut SqliteConnection, r: &Revocation) -> Result<i64, StoreError> {
    use crate::sql::revocations::{INSERT_REVOCATION, bind_entry, delete_revoked};
    delete_revoked(&mut *conn, &r.token).await?;
    let done = bind_entry(sqlx::query(INSERT_REVOCATION), r).execute(&mut *conn).await.map_err(map_err)?;
    Ok(done.last_insert_rowid())
}
