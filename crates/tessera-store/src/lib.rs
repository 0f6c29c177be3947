//! Storage backends for Tessera, each implementing [`tessera_core::store::Store`].
//!
//! # Layout
//! - [`memory`]: in-process maps, for tests and `--ephemeral` runs.
//! - [`sqlite`]: the embedded default; WAL mode, one writer task that commits
//!   concurrent token and revocation writes in one transaction (group commit)
//!   and answers each caller only after the commit.
//! - [`postgres`]: a database shared by several server processes; ordinary
//!   transactions on a pool, row locks for single-use steps, revocation
//!   numbers in commit order, and LISTEN/NOTIFY so every node sees client,
//!   key and revocation changes at once.
//! - [`conformance`]: the one test suite every backend must pass; run it with
//!   [`conformance_suite!`].
//! - `migrations/<backend>/`: numbered SQL migrations, the same numbers and
//!   names for every backend; an applied migration is never edited.
#![forbid(unsafe_code)]

#[macro_use]
mod columns;
pub mod conformance;
mod conformance_accounts;
mod conformance_attempts;
mod conformance_device;
mod conformance_refresh;
mod conformance_token_ids;
pub mod memory;
pub mod postgres;
mod schema;
pub mod sqlite;

pub use memory::{ConfigReads, MemoryStore};
pub use postgres::{PgOptions, PgStore};
pub use sqlite::{Durability, SqliteOptions, SqliteStore};
