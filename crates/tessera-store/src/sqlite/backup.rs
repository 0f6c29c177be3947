//! `tessera backup`: a consistent copy of a live SQLite database.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection};
use tessera_core::store::StoreError;

use super::{SqliteStore, map_err, unavailable, unavailable_by};

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
            .map_err(|e| unavailable_by(format!("cannot create {}", dest.display()), e))?;
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
        .map_err(|e| unavailable_by(format!("cannot open {}", db.display()), e))?;
    sqlx::query("VACUUM INTO $1")
        .bind(dest_str)
        .execute(&mut conn)
        .await
        .map_err(|e| unavailable_by("VACUUM INTO failed", e))?;
    conn.close().await.map_err(map_err)?;

    let copy = SqliteConnectOptions::new()
        .filename(dest)
        .create_if_missing(false)
        .journal_mode(SqliteJournalMode::Delete)
        .disable_statement_logging();
    let mut conn =
        SqliteConnection::connect_with(&copy).await.map_err(|e| unavailable_by("cannot open the copy", e))?;
    let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| unavailable_by("cannot check the copy", e))?;
    if check != ["ok"] {
        return Err(unavailable(format!("the copy failed its integrity check: {}", check.join("; "))));
    }
    // A Tessera database, not any SQLite file that happened to be at the path.
    let _: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| unavailable_by(format!("{} is not a Tessera database", db.display()), e))?;
    conn.close().await.map_err(map_err)?;

    let sync = |p: &Path| std::fs::File::open(p).and_then(|f| f.sync_all());
    sync(dest).map_err(|e| unavailable_by(format!("cannot sync {}", dest.display()), e))?;
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        sync(dir).map_err(|e| unavailable_by(format!("cannot sync {}", dir.display()), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    /// The OS's error is kept behind the store's (as its source), not
    /// flattened into the message.
    #[tokio::test]
    async fn a_failed_backup_keeps_the_io_error_as_its_source() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("taken.db");
        std::fs::write(&dest, b"").expect("write");
        let err = SqliteStore::backup(&dir.path().join("tessera.db"), &dest).await.expect_err("the file exists");
        assert_eq!(err.to_string(), format!("store unavailable: cannot create {}", dest.display()));
        let io = err.source().and_then(|s| s.downcast_ref::<std::io::Error>()).expect("an io error");
        assert_eq!(io.kind(), std::io::ErrorKind::AlreadyExists);
        assert!(dest.exists(), "the file that was there is left alone");
    }
}
