//! The data directory: `tessera.db` (SQLite, WAL) and `master.key`, the
//! 256-bit key that seals signing keys at rest, created with mode 0600; or,
//! with `--database-url postgres://…`, the shared PostgreSQL database (every
//! node then needs the same master key file).

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use tessera_core::clock::SystemClock;
use tessera_core::keys::MasterKey;
use tessera_core::random::{Random, SystemRandom};
use tessera_core::store::Store;
use tessera_core::{Authority, Settings};
use tessera_store::{PgOptions, PgStore, SqliteOptions, SqliteStore};

use crate::config::{Config, Database, redact_url};

pub fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))
}

/// Reads the master key, or creates it (mode 0600, never overwritten).
pub fn master_key(path: &Path, rng: &dyn Random) -> anyhow::Result<MasterKey> {
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(mut f) => {
            let key = rng.bytes32();
            f.write_all(&key).and_then(|_| f.sync_all()).with_context(|| format!("cannot write {}", path.display()))?;
            return Ok(MasterKey::from_bytes(key));
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(e).with_context(|| format!("cannot create master key {}", path.display()));
        }
    }
    let mut f = std::fs::File::open(path).with_context(|| format!("cannot read master key {}", path.display()))?;
    let mode = f.metadata().map(|m| m.permissions().mode()).unwrap_or(0);
    if mode & 0o077 != 0 {
        bail!(
            "master key {} is readable by other users (mode {:o}); run: chmod 600 {}",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let key: [u8; 32] = buf
        .as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("master key {} must be exactly 32 bytes", path.display()))?;
    Ok(MasterKey::from_bytes(key))
}

/// Opens the configured store; with `migrate` false, refuses a database
/// whose schema is behind this binary's.
pub async fn open_store(cfg: &Config, migrate: bool) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match &cfg.database {
        Database::Sqlite(path) => {
            let mut opts = SqliteOptions::new(path);
            opts.durability = cfg.durability;
            Arc::new(
                SqliteStore::open(&opts, migrate)
                    .await
                    .with_context(|| format!("cannot open database {}", path.display()))?,
            )
        }
        Database::Postgres(url) => {
            let mut opts = PgOptions::new(url.clone());
            opts.max_connections = cfg.db_pool_size;
            opts.statement_timeout = cfg.db_statement_timeout;
            opts.ssl_root_cert = cfg.db_ssl_root_cert.clone();
            Arc::new(
                PgStore::connect(&opts, migrate)
                    .await
                    .with_context(|| format!("cannot open database {}", redact_url(url)))?,
            )
        }
    })
}

/// `tessera migrate`: applies pending migrations, safe while other nodes run
/// (PostgreSQL: under the migrator's advisory lock).
pub async fn migrate(cfg: &Config) -> anyhow::Result<()> {
    if let Database::Sqlite(_) = cfg.database {
        ensure_dir(&cfg.data_dir)?;
    }
    open_store(cfg, true).await?;
    println!("database is up to date");
    Ok(())
}

/// Opens the store (applying migrations) and the authority for any command.
pub async fn open(cfg: &Config) -> anyhow::Result<(Arc<dyn Store>, Arc<Authority>)> {
    open_with(cfg, true).await
}

pub async fn open_with(cfg: &Config, migrate: bool) -> anyhow::Result<(Arc<dyn Store>, Arc<Authority>)> {
    ensure_dir(&cfg.data_dir)?;
    let rng: Arc<dyn Random> =
        Arc::new(SystemRandom::new().map_err(|_| anyhow::anyhow!("the OS random source failed"))?);
    let master = master_key(&cfg.master_key_file, rng.as_ref())?;
    let store = open_store(cfg, migrate).await?;
    let settings = Settings {
        signing_alg: cfg.signing_alg,
        default_audience: cfg.default_audience.clone(),
        introspection_cache_capacity: cfg.introspection_cache,
        session_ttl: cfg.session_ttl,
        ..Settings::new(cfg.issuer.clone())
    };
    let authority =
        Authority::start(settings, store.clone(), master, Arc::new(SystemClock), rng).await.context("cannot start")?;
    Ok((store, Arc::new(authority)))
}
