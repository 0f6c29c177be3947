//! PostgreSQL for tests: each test gets a database of its own on the
//! machine's server (`TESSERA_TEST_PG_URL` as the admin URL, else
//! `postgres://postgres@127.0.0.1:5432/postgres`), dropped when its
//! [`TestDb`] is. An unreachable server fails the test: CI provides one.
//!
//! Names are `tessera_t_<unix secs>_<pid>_<n>`: unique across parallel
//! test threads and processes. Databases a killed run left behind are
//! dropped by the first test of a later run once an hour old.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use tessera_store::{PgOptions, PgStore};

const PREFIX: &str = "tessera_t_";
/// Leftovers older than this are dropped.
const STALE_SECS: u64 = 3600;

pub fn admin_url() -> String {
    std::env::var("TESSERA_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The admin URL without any password, for messages.
fn shown() -> String {
    let url = admin_url();
    match url.split_once("://").and_then(|(s, rest)| rest.rsplit_once('@').map(|(_, host)| format!("{s}://…@{host}")))
    {
        Some(u) => u,
        None => url,
    }
}

pub async fn admin() -> PgConnection {
    PgConnection::connect(&admin_url()).await.unwrap_or_else(|e| {
        panic!("PostgreSQL at {} is required for these tests (set TESSERA_TEST_PG_URL to an admin URL): {e}", shown())
    })
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

async fn sweep(admin: &mut PgConnection) {
    let names: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'tessera\\_t\\_%'")
        .fetch_all(&mut *admin)
        .await
        .expect("list databases");
    for name in names {
        let Some(secs) =
            name.strip_prefix(PREFIX).and_then(|r| r.split('_').next()).and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        if secs + STALE_SECS < now_secs() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            let _ = admin.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await;
        }
    }
}

/// A database of this test's own, dropped with this value.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> Self {
        static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
        static N: AtomicU32 = AtomicU32::new(0);
        let mut admin = admin().await;
        SWEPT.get_or_init(|| sweep(&mut admin)).await;
        let name = format!("{PREFIX}{}_{}_{}", now_secs(), std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        admin.execute(AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.expect("create the test database");
        let _ = admin.close().await;
        let mut url = url::Url::parse(&admin_url()).expect("TESSERA_TEST_PG_URL must be a URL");
        url.set_path(&format!("/{name}"));
        Self { name, url: url.to_string() }
    }

    /// Small pools: many tests share the server's connection limit.
    pub fn options(&self) -> PgOptions {
        let mut o = PgOptions::new(self.url.clone());
        o.max_connections = 8;
        o
    }

    pub async fn store(&self, migrate: bool) -> PgStore {
        PgStore::connect(&self.options(), migrate).await.expect("connect to the test database")
    }

    /// A plain connection to this database (for checks behind the store's back).
    pub async fn conn(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Dropped inside the test's runtime, which cannot block on itself: a
        // thread with a runtime of its own. FORCE ends the stores' connections.
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&admin_url()).await {
                    let _ = admin.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}
