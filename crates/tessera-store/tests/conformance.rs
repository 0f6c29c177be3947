//! Runs the storage conformance suite against every backend.
#![allow(clippy::expect_used)]

mod pg_util;

mod memory {
    tessera_store::conformance_suite!(async { std::sync::Arc::new(tessera_store::MemoryStore::new()) });
}

/// SQLite in each durability mode: they differ only in when commits are fsynced.
macro_rules! sqlite_suite {
    ($name:ident, $durability:expr) => {
        mod $name {
            use std::sync::Arc;

            use tessera_core::store::Store;
            use tessera_store::{Durability, SqliteOptions, SqliteStore};

            async fn fresh() -> Arc<dyn Store> {
                // The directory lives as long as the test process; tests are short.
                let dir = tempfile::tempdir().expect("tempdir").keep();
                let mut opts = SqliteOptions::new(dir.join("tessera.db"));
                opts.durability = $durability;
                Arc::new(SqliteStore::open(&opts, true).await.expect("open"))
            }

            tessera_store::conformance_suite!(fresh());
        }
    };
}

sqlite_suite!(sqlite, Durability::Revocations);
sqlite_suite!(sqlite_full, Durability::Full);
sqlite_suite!(sqlite_normal, Durability::Normal);

/// PostgreSQL: each case on a database of its own, dropped after the case.
mod postgres {
    use std::sync::Arc;

    use tessera_core::store::Store;

    use crate::pg_util::TestDb;

    async fn fresh() -> (Arc<dyn Store>, TestDb) {
        let db = TestDb::create().await;
        let store: Arc<dyn Store> = Arc::new(db.store(true).await);
        (store, db)
    }

    tessera_store::conformance_suite!(guarded fresh());
}
