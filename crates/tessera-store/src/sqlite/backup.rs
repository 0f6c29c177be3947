//! `tessera backup`: a consistent copy of a live SQLite database.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection};
use tessera_core::store::StoreError;

use super::{SqliteStore, unavailable};

impl SqliteStore {
    /// Copies the database at `db` into the new file `dest` with `VACUUM
    /// INTO` on a connection of its own. That is one read transaction: the
    /// copy is the database as of one commit (every write acknowledged before
    /// the call is in it) while a running server keeps committing to the
    /// WAL. `dest` must not exist; it is created with mode 0600, is a single
    /// file (rollback journal, no `-wal`), passes `PRAGMA integrity_check`
    /// and is fsynced before this returns. On failure nothing is left behind.
    pub async fn backup(db: &Path, dest: &Path) -> Result<(), StoreError> {
        let Some(dest_str) = dest.to_str() else {
            return Err(unavailable(format!("backup path {} is not UTF-8", dest.display())));
        };
        // Created here, empty (VACUUM INTO accepts an empty file): an existing
        // file is never overwritten, and the mode is 0600 from the start.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dest)
            .map_err(|e| unavailable(format!("cannot create {}: {e}", dest.display())))?;
        let r = copy(db, dest, dest_str).await;
        if r.is_err() {
            let _ = std::fs::remove_file(dest);
        }
        r
    }
}

async fn copy(db: &Path, dest: &Path, dest_str: &str) -> Result<(), StoreError> {
    let source = SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(10))
        .disable_statement_logging();
    let mut conn = SqliteConnection::connect_with(&source)
        .await
        .map_err(|e| unavailable(format!("cannot open {}: {e}", db.display())))?;
    sqlx::query("VACUUM INTO $1").bind(dest_str).execute(&mut conn).await.map_err(unavailable)?;
    conn.close().await.map_err(unavailable)?;

    let copy = SqliteConnectOptions::new()
        .filename(dest)
        .create_if_missing(false)
        .journal_mode(SqliteJournalMode::Delete)
        .disable_statement_logging();
    let mut conn = SqliteConnection::connect_with(&copy).await.map_err(unavailable)?;
    let check: Vec<String> =
        sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&mut conn).await.map_err(unavailable)?;
    if check != ["ok"] {
        return Err(unavailable(format!("the copy failed its integrity check: {}", check.join("; "))));
    }
    // A Tessera database, not any SQLite file that happened to be at the path.
    let _: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| unavailable(format!("{} is not a Tessera database: {e}", db.display())))?;
    conn.close().await.map_err(unavailable)?;

    let sync = |p: &Path| std::fs::File::open(p).and_then(|f| f.sync_all());
    sync(dest).map_err(|e| unavailable(format!("cannot sync {}: {e}", dest.display())))?;
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        sync(dir).map_err(|e| unavailable(format!("cannot sync {}: {e}", dir.display())))?;
    }
    Ok(())
}
