//! `serve --no-migrate`: a node that does not migrate must not run on a
//! schema older than its own code expects.

use sqlx::migrate::Migrator;
use tessera_core::store::{Cause, StoreError};

/// Fails when any of `migrator`'s migrations is not among `applied` (the
/// successful versions in `_sqlx_migrations`). A database that is ahead
/// (migrated by a newer node during a rolling upgrade) is accepted.
pub(crate) fn ensure_current(migrator: &Migrator, applied: &[i64]) -> Result<(), StoreError> {
    let pending: Vec<String> = migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
        .map(|m| format!("{:04}_{}", m.version, m.description.replace(' ', "_")))
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    Err(StoreError::Unavailable(Cause::from(format!(
        "the database schema is behind this version of tessera (pending: {}); run `tessera migrate` first",
        pending.join(", ")
    ))))
}
