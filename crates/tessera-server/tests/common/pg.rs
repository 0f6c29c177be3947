//! PostgreSQL for the multi-node tests: each test creates its own database
//! on the machine's server (127.0.0.1:5432, user postgres, or
//! `TESSERA_TEST_PG_URL`) and drops it afterwards, and starts several
//! `tessera serve` processes on it that share one issuer and master key.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use super::Server;

pub fn admin_url() -> String {
    std::env::var("TESSERA_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Runs one SQL command as the admin; panics with psql's message.
pub fn psql(sql: &str) -> String {
    psql_at(&admin_url(), sql)
}

/// Runs one SQL command on the database at `url`.
pub fn psql_at(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])
        .output()
        .expect("psql (PostgreSQL's client) must be installed");
    assert!(
        out.status.success(),
        "PostgreSQL at {} is required for this test: {}",
        admin_url(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A database of this test's own, dropped with it.
pub struct PgDb {
    pub name: String,
    pub url: String,
}

impl PgDb {
    pub fn create() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let name = format!("tessera_it_{}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed), nanos);
        psql(&format!("CREATE DATABASE {name}"));
        let base = admin_url();
        let url = match base.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("TESSERA_TEST_PG_URL must end in /DATABASE"),
        };
        Self { name, url }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([admin_url().as_str(), "-qAt", "-c", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)])
            .output();
    }
}

/// Nodes on one database, as behind a load balancer: one issuer (node 0's
/// address), one master key.
pub struct Cluster {
    pub nodes: Vec<Server>,
    pub issuer: String,
    pub env: Vec<(String, String)>,
    // Dropped last: the nodes must stop before their database goes.
    _keys: tempfile::TempDir,
    pub db: PgDb,
}

impl Cluster {
    pub fn start(n: usize) -> Self {
        Self::start_with(n, &[])
    }

    pub fn start_with(n: usize, extra: &[(&str, &str)]) -> Self {
        let db = PgDb::create();
        let keys = tempfile::tempdir().unwrap();
        let key_file = keys.path().join("master.key");
        let mut env: Vec<(String, String)> = vec![
            ("TESSERA_DATABASE_URL".into(), db.url.clone()),
            ("TESSERA_MASTER_KEY_FILE".into(), key_file.display().to_string()),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        // Nodes start one after another: the first creates the master key.
        let first = Server::start_with(&refs(&env));
        let issuer = first.issuer();
        env.push(("TESSERA_ISSUER".into(), issuer.clone()));
        let mut nodes = vec![first];
        for _ in 1..n {
            nodes.push(Server::start_with(&refs(&env)));
        }
        Self { nodes, issuer, env, _keys: keys, db }
    }

    /// `tessera ARGS` on the shared database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.nodes[0].cli(args)
    }
}

fn refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}
