//! Storage backends for Tessera, each implementing [`tessera_core::store::Store`].
//!
//! # Layout
//! - `memory`: the in-memory store of `tessera-core` (its `test-store` feature), re-exported with the conformance suite.
//! - `sql/`: what the two SQL backends share, written once and generic over
//!   the database (`sql::Dialect`): row mappers and column lists
//!   (`rows.rs`), the CRUD per concern (`config.rs`: clients, keys, scopes,
//!   settings; `accounts.rs`: users, sessions, consent, grants; `codes.rs`,
//!   `refresh.rs`, `device.rs`, `revocations.rs`: reads, inserts and the
//!   steps single-use operations decide on; `replays.rs`: the replay-cache
//!   upsert; `purge.rs`), and one error
//!   mapping (`map_err`, `corrupt`).
//! - [`sqlite`]: the embedded default; WAL mode, one writer task that commits
//!   concurrent token and revocation writes in one transaction (group commit)
//!   and answers each caller only after the commit. One file per group of
//!   store traits (`config.rs`, `accounts.rs`, `refresh.rs`, `device.rs`,
//!   `feed.rs`, `replays.rs`), each mostly calls into `sql/` on the right connection; the
//!   writer, its job queue (`exec.rs`) and the single-use steps are its own.
//! - [`postgres`]: a database shared by several server processes; ordinary
//!   transactions on a pool, row locks for single-use steps, revocation
//!   numbers in commit order, and LISTEN/NOTIFY so every node sees client,
//!   key and revocation changes at once. The same files as `sqlite/`, plus
//!   `listen.rs`, `tokens.rs` (grouped token inserts) and `attempts.rs`.
//! - `conformance`: the one test suite every backend must pass; run it with
//!   `conformance_suite!`. Compiled only with the `conformance` feature,
//!   which this crate's own tests (and other crates' dev-dependencies) turn on.
//! - `migrations/<backend>/`: numbered SQL migrations, the same numbers and
//!   names for every backend; an applied migration is never edited.
#![forbid(unsafe_code)]

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "conformance")]
mod conformance_accounts;
#[cfg(feature = "conformance")]
mod conformance_attempts;
#[cfg(feature = "conformance")]
mod conformance_device;
#[cfg(feature = "conformance")]
mod conformance_dpop;
#[cfg(feature = "conformance")]
mod conformance_refresh;
#[cfg(feature = "conformance")]
mod conformance_token_ids;
#[cfg(feature = "conformance")]
pub use tessera_core::store::memory;
pub mod postgres;
mod schema;
mod sql;
pub mod sqlite;

#[cfg(feature = "conformance")]
pub use memory::{ConfigReads, MemoryStore};
pub use postgres::{GroupCommits, PgOptions, PgStore};
pub use sqlite::{Durability, SqliteOptions, SqliteStore};
