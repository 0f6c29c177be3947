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
use tessera_core::store::{ISSUER_SETTING, Store};
use tessera_core::{Authority, Settings};
use tessera_proto::redact_url;
use tessera_store::{PgOptions, PgStore, SqliteOptions, SqliteStore};

use crate::config::{Config, Database};

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
    read_master_key(path)
}

/// Reads an existing master key; refuses one other users can read.
fn read_master_key(path: &Path) -> anyhow::Result<MasterKey> {
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

/// Only `serve` and `migrate` set up a deployment; every other command
/// works on an existing one, so a mistyped `--data-dir` fails instead of
/// quietly starting a new, empty one the server never sees.
fn require_existing(cfg: &Config, master_key: bool) -> anyhow::Result<()> {
    let missing = |p: &Path| matches!(std::fs::metadata(p), Err(e) if e.kind() == std::io::ErrorKind::NotFound);
    let hint = "run `tessera migrate` or `tessera serve` to create it, or point --data-dir at the server's";
    let mut needed = Vec::new();
    if master_key {
        needed.push(("master key", cfg.master_key_file.as_path()));
    }
    if let Database::Sqlite(db) = &cfg.database {
        needed.push(("database", db.as_path()));
    }
    for (what, path) in needed {
        if missing(path) {
            if path.starts_with(&cfg.data_dir) && missing(&cfg.data_dir) {
                bail!("data directory {} does not exist; {hint}", cfg.data_dir.display());
            }
            bail!("{what} {} does not exist; {hint}", path.display());
        }
    }
    Ok(())
}

/// Creates the data directory when something of ours lives in it.
fn ensure_dirs(cfg: &Config) -> anyhow::Result<()> {
    if matches!(cfg.database, Database::Sqlite(_)) || cfg.master_key_file.starts_with(&cfg.data_dir) {
        ensure_dir(&cfg.data_dir)?;
    }
    Ok(())
}

fn system_rng() -> anyhow::Result<Arc<dyn Random>> {
    Ok(Arc::new(SystemRandom::new().map_err(|_| anyhow::anyhow!("the OS random source failed"))?))
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

/// `tessera migrate`: creates the data directory, master key and database
/// if missing, and applies pending migrations; safe while other nodes run
/// (PostgreSQL: under the migrator's advisory lock).
pub async fn migrate(cfg: &Config) -> anyhow::Result<()> {
    ensure_dirs(cfg)?;
    master_key(&cfg.master_key_file, system_rng()?.as_ref())?;
    open_store(cfg, true).await?;
    println!("database is up to date");
    Ok(())
}

/// `tessera backup FILE`: a consistent copy of the SQLite database, safe
/// while the server runs; see `docs/operations.md` for restoring it.
pub async fn backup(cfg: &Config, file: &Path) -> anyhow::Result<()> {
    let Database::Sqlite(db) = &cfg.database else {
        bail!("tessera backup copies SQLite databases; back up PostgreSQL with pg_dump (see docs/operations.md)");
    };
    // The copy needs only the database: the master key may live elsewhere.
    require_existing(cfg, false)?;
    SqliteStore::backup(db, file)
        .await
        .with_context(|| format!("cannot back up {} to {}", db.display(), file.display()))?;
    println!(
        "backed up {} to {} (integrity checked); the master key is not in it: keep {} elsewhere",
        db.display(),
        file.display(),
        cfg.master_key_file.display()
    );
    Ok(())
}

/// Opens an existing deployment (applying migrations) and the authority for
/// a CLI command, with the issuer `serve` recorded (see
/// [`Config::adopt_recorded_issuer`]).
pub async fn open(cfg: &Config) -> anyhow::Result<(Arc<dyn Store>, Arc<Authority>)> {
    require_existing(cfg, true)?;
    let master = read_master_key(&cfg.master_key_file)?;
    let store = open_store(cfg, true).await?;
    let recorded = store.get_setting(ISSUER_SETTING).await.context("cannot read the recorded issuer")?;
    let mut cfg = cfg.clone();
    cfg.adopt_recorded_issuer(recorded)?;
    start(&cfg, store, master).await
}

/// `tessera serve`: creates what is missing, and records the issuer it
/// serves for the CLI. A node started with another issuer replaces the
/// record (a deliberate change; nodes sharing a database share one issuer).
pub async fn open_with(cfg: &Config, migrate: bool) -> anyhow::Result<(Arc<dyn Store>, Arc<Authority>)> {
    ensure_dirs(cfg)?;
    let master = master_key(&cfg.master_key_file, system_rng()?.as_ref())?;
    let store = open_store(cfg, migrate).await?;
    let opened = start(cfg, store.clone(), master).await?;
    let recorded = store.get_setting(ISSUER_SETTING).await.context("cannot read the recorded issuer")?;
    if recorded.as_deref() != Some(cfg.issuer.as_str()) {
        if let Some(previous) = recorded {
            tracing::warn!(%previous, issuer = %cfg.issuer, "the issuer changed; CLI commands now use the new one");
        }
        store.put_setting(ISSUER_SETTING, &cfg.issuer).await.context("cannot record the issuer")?;
    }
    Ok(opened)
}

async fn start(
    cfg: &Config,
    store: Arc<dyn Store>,
    master: MasterKey,
) -> anyhow::Result<(Arc<dyn Store>, Arc<Authority>)> {
    let settings = Settings {
        signing_alg: cfg.signing_alg,
        default_audience: cfg.default_audience.clone(),
        introspection_cache_capacity: cfg.introspection_cache,
        session_ttl: cfg.session_ttl,
        dpop_nonce: cfg.dpop_nonce,
        ..Settings::new(cfg.issuer.clone())
    };
    let authority = Authority::start(settings, store.clone(), master, Arc::new(SystemClock), system_rng()?)
        .await
        .context("cannot start")?;
    Ok((store, Arc::new(authority)))
}
