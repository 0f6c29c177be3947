//! The `tessera` command line. Every failure is one line on stderr and exit
//! code 1 (2 for usage errors, from clap).

mod client;
mod key;
mod token;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, Layer};

#[derive(Debug, Parser)]
#[command(name = "tessera", version, about = "Tessera: an OAuth 2.1 authorization server", long_about = None)]
pub struct Cli {
    /// Where the database and master key live.
    #[arg(long, global = true, env = "TESSERA_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Config file [default: ./tessera.toml if present].
    #[arg(long, global = true, env = "TESSERA_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Public URL of this server, the `iss` of its tokens [default: http://LISTEN].
    #[arg(long, global = true, env = "TESSERA_ISSUER", value_name = "URL")]
    issuer: Option<String>,
    /// Algorithm that signs JWTs: EdDSA, ES256 or RS256 [default: EdDSA].
    #[arg(long, global = true, env = "TESSERA_SIGNING_ALG", value_name = "ALG")]
    signing_alg: Option<String>,
    /// Database: `postgres://USER@HOST/DB[?sslmode=verify-full]` (several
    /// nodes) or `sqlite://PATH` [default: sqlite in DIR].
    #[arg(long, global = true, env = "TESSERA_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    database_url: Option<String>,
    /// PostgreSQL connections per node [default: 16].
    #[arg(long, global = true, env = "TESSERA_DB_POOL_SIZE", value_name = "N")]
    db_pool_size: Option<u32>,
    /// PostgreSQL: longest a statement may run [default: 5s].
    #[arg(long, global = true, env = "TESSERA_DB_STATEMENT_TIMEOUT", value_name = "DURATION")]
    db_statement_timeout: Option<String>,
    /// PostgreSQL: CA certificate (PEM) for sslmode=verify-ca or verify-full.
    #[arg(long, global = true, env = "TESSERA_DB_SSL_ROOT_CERT", value_name = "FILE")]
    db_ssl_root_cert: Option<PathBuf>,
    /// File holding the 32-byte master key [default: DIR/master.key].
    #[arg(long, global = true, env = "TESSERA_MASTER_KEY_FILE", value_name = "FILE")]
    master_key_file: Option<PathBuf>,
    /// Log filter, e.g. `info` or `tessera_server=debug` [default: info for serve, warn otherwise].
    #[arg(long, global = true, env = "TESSERA_LOG", value_name = "FILTER")]
    log: Option<String>,
    /// Log format: text or json [default: text].
    #[arg(long, global = true, env = "TESSERA_LOG_FORMAT", value_name = "FORMAT")]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the authorization server.
    Serve(ServeArgs),
    /// Apply database migrations and exit (`serve` does this on start
    /// unless `--no-migrate`).
    Migrate,
    /// Copy the SQLite database, consistently, while the server runs
    /// (PostgreSQL: use pg_dump). The master key is not in the copy.
    Backup {
        /// The new file to write (never overwritten).
        file: PathBuf,
    },
    /// Register and manage OAuth clients.
    #[command(subcommand)]
    Client(client::ClientCmd),
    /// Issue and inspect tokens without the network (staging and tests).
    #[command(subcommand)]
    Token(token::TokenCmd),
    /// List and rotate signing keys.
    #[command(subcommand)]
    Key(key::KeyCmd),
    /// Manage the people who sign in.
    #[command(subcommand)]
    User(user::UserCmd),
    /// Register the scopes users are asked to allow.
    #[command(subcommand)]
    Scope(user::ScopeCmd),
    /// List and revoke what users have allowed applications.
    #[command(subcommand)]
    Grant(user::GrantCmd),
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "TESSERA_LISTEN", value_name = "ADDR")]
    listen: Option<String>,
    /// TLS certificate chain (PEM); serves HTTPS and sends HSTS.
    #[arg(long, env = "TESSERA_TLS_CERT", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "TESSERA_TLS_KEY", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// `aud` for clients that register no audience [default: the issuer].
    #[arg(long, env = "TESSERA_DEFAULT_AUDIENCE", value_name = "URI")]
    default_audience: Option<String>,
    /// Opaque-token lookups kept in memory for introspection [default: 10000].
    #[arg(long, env = "TESSERA_INTROSPECTION_CACHE", value_name = "N")]
    introspection_cache: Option<u64>,
    /// When SQLite fsyncs: `full` (every commit), `revocations` (every commit
    /// holding a revocation; tokens are crash-safe) or `normal` (at
    /// checkpoints). All survive kill -9 [default: revocations].
    #[arg(long, env = "TESSERA_SQLITE_SYNCHRONOUS", value_name = "MODE")]
    sqlite_synchronous: Option<String>,
    /// How often expired tokens and revocations are purged [default: 60s].
    #[arg(long, env = "TESSERA_PURGE_INTERVAL", value_name = "DURATION")]
    purge_interval: Option<String>,
    /// How long a browser stays signed in [default: 10h].
    #[arg(long, env = "TESSERA_SESSION_TTL", value_name = "DURATION")]
    session_ttl: Option<String>,
    /// Whether a DPoP proof at the token endpoint and UserInfo must carry a
    /// server nonce (RFC 9449 §8, §9): `required` or `optional` [default: required].
    #[arg(long, env = "TESSERA_DPOP_NONCE", value_name = "MODE", value_parser = ["required", "optional"])]
    dpop_nonce: Option<String>,
    /// Longest any request may take before it is answered 503
    /// temporarily_unavailable; the revocation long-poll gets its `wait` on top [default: 30s].
    #[arg(long, env = "TESSERA_REQUEST_TIMEOUT", value_name = "DURATION")]
    request_timeout: Option<String>,
    /// Open connections at most; past this, new ones wait to be accepted
    /// [default: the open-file limit less 256, at most 10000].
    #[arg(long, env = "TESSERA_MAX_CONNECTIONS", value_name = "N")]
    max_connections: Option<u32>,
    /// A proxy or load balancer (address or CIDR, repeatable; comma-separated
    /// in the variable) whose `Forwarded` / `X-Forwarded-For` names the client.
    #[arg(long = "trusted-proxy", env = "TESSERA_TRUSTED_PROXIES", value_name = "CIDR", value_delimiter = ',')]
    trusted_proxies: Vec<String>,
    /// Failed client authentications per client_id, e.g. 30/m; 0 or off disables [default: 30/m].
    #[arg(long, env = "TESSERA_RATE_LIMIT_AUTH_FAILURES", value_name = "RATE")]
    rate_limit_auth_failures: Option<String>,
    /// Failed client authentications per client address (loopback is not limited) [default: 60/m].
    #[arg(long, env = "TESSERA_RATE_LIMIT_AUTH_FAILURES_PER_ADDRESS", value_name = "RATE")]
    rate_limit_auth_failures_per_address: Option<String>,
    /// Requests to authorize, device_authorization, /login, /device and
    /// /consent per client address (loopback is not limited) [default: 6000/m].
    #[arg(long, env = "TESSERA_RATE_LIMIT_UNAUTHENTICATED", value_name = "RATE")]
    rate_limit_unauthenticated: Option<String>,
    /// Introspection requests per client [default: 50000/s].
    #[arg(long, env = "TESSERA_RATE_LIMIT_INTROSPECTION", value_name = "RATE")]
    rate_limit_introspection: Option<String>,
    /// Do not apply migrations on start; refuse to start if any are pending
    /// (for deployments that run `tessera migrate` as a separate step).
    #[arg(long, env = "TESSERA_NO_MIGRATE")]
    no_migrate: bool,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // On one CPU the work-stealing scheduler only adds overhead.
    let one_cpu = std::thread::available_parallelism().map(|n| n.get() == 1).unwrap_or(false);
    let rt = if one_cpu {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => return fail(anyhow::anyhow!("cannot start the runtime: {e}")),
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn fail(e: anyhow::Error) -> ExitCode {
    // `{:#}` puts the whole cause chain on one line.
    eprintln!("error: {e:#}");
    ExitCode::FAILURE
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = Layer::load(cli.config.as_deref())?;
    // A server logs its life at info; a one-shot command only what went wrong.
    let default_log = if matches!(cli.command, Command::Serve(_)) { "info" } else { "warn" };
    let filter = cli.log.clone().or(file.log.clone()).unwrap_or_else(|| default_log.into());
    init_logging(&filter, cli.log_format.clone().or(file.log_format.clone()))?;
    let mut o = Layer {
        data_dir: cli.data_dir,
        issuer: cli.issuer,
        signing_alg: cli.signing_alg,
        master_key_file: cli.master_key_file,
        database_url: cli.database_url,
        db_pool_size: cli.db_pool_size,
        db_statement_timeout: cli.db_statement_timeout,
        db_ssl_root_cert: cli.db_ssl_root_cert,
        ..Default::default()
    };
    if let Command::Serve(s) = &cli.command {
        o.listen = s.listen.clone();
        o.tls_cert = s.tls_cert.clone();
        o.tls_key = s.tls_key.clone();
        o.default_audience = s.default_audience.clone();
        o.introspection_cache = s.introspection_cache;
        o.sqlite_synchronous = s.sqlite_synchronous.clone();
        o.purge_interval = s.purge_interval.clone();
        o.session_ttl = s.session_ttl.clone();
        o.dpop_nonce = s.dpop_nonce.clone();
        o.request_timeout = s.request_timeout.clone();
        o.max_connections = s.max_connections;
        o.trusted_proxies = (!s.trusted_proxies.is_empty()).then(|| s.trusted_proxies.clone());
        o.rate_limit_auth_failures = s.rate_limit_auth_failures.clone();
        o.rate_limit_auth_failures_per_address = s.rate_limit_auth_failures_per_address.clone();
        o.rate_limit_unauthenticated = s.rate_limit_unauthenticated.clone();
        o.rate_limit_introspection = s.rate_limit_introspection.clone();
    }
    let cfg = Config::resolve(o, file)?;
    match cli.command {
        Command::Serve(s) => crate::http::serve(cfg, !s.no_migrate).await,
        Command::Migrate => crate::data::migrate(&cfg).await,
        Command::Backup { file } => crate::data::backup(&cfg, &file).await,
        Command::Client(c) => client::run(&cfg, c).await,
        Command::Token(t) => token::run(&cfg, t).await,
        Command::Key(k) => key::run(&cfg, k).await,
        Command::User(u) => user::run_user(&cfg, u).await,
        Command::Scope(c) => user::run_scope(&cfg, c).await,
        Command::Grant(g) => user::run_grant(&cfg, g).await,
    }
}

fn init_logging(filter: &str, format: Option<String>) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    // PostgreSQL's notices ("relation … already exists, skipping" on every
    // start) are not news, unless asked for by name.
    let filter =
        if filter.contains("sqlx") { filter.to_string() } else { format!("{filter},sqlx::postgres::notice=warn") };
    let filter = EnvFilter::try_new(&filter).map_err(|e| anyhow::anyhow!("log filter: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let r = match format.as_deref().unwrap_or("text") {
        "text" => builder.try_init(),
        "json" => builder.json().try_init(),
        other => anyhow::bail!("log format {other:?} is not 'text' or 'json'"),
    };
    r.map_err(|e| anyhow::anyhow!("logging: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A base64url key id may start with `-`: it is the argument, not a flag
    /// (one random kid in 64 did, and `key revoke` refused it).
    #[test]
    fn a_key_id_starting_with_a_hyphen_is_an_argument() {
        let parsed = Cli::try_parse_from(["tessera", "key", "revoke", "-Ab3_x9"]);
        let out = format!("{parsed:?}");
        assert!(parsed.is_ok() && out.contains("-Ab3_x9"), "{out}");
    }
}
