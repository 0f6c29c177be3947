//! Runs the storage conformance suite against every backend.
#![allow(clippy::expect_used)]

mod memory {
    tessera_store::conformance_suite!(async { std::sync::Arc::new(tessera_store::MemoryStore::new()) });
}

mod sqlite {
    use std::sync::Arc;

    use tessera_core::store::Store;
    use tessera_store::{SqliteOptions, SqliteStore};

    async fn fresh() -> Arc<dyn Store> {
        // The directory lives as long as the test process; tests are short.
        let dir = tempfile::tempdir().expect("tempdir").keep();
        let store = SqliteStore::open(&SqliteOptions::new(dir.join("tessera.db")), true).await.expect("open");
        Arc::new(store)
    }

    tessera_store::conformance_suite!(fresh());
}
