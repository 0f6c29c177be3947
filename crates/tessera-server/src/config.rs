//! Settings: command-line flag, then `TESSERA_*` environment variable (both
//! through clap), then `tessera.toml`, then the default. Checked once, at start.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use tessera_core::keys::Algorithm;
use tessera_proto::redact_url;

pub use crate::http::client_addr::Cidr;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./tessera-data";

/// One layer of settings: `tessera.toml`, or the command line and environment
/// (clap merges those two). Every key optional; in the file, unknown keys are
/// refused, so a typo does not silently fall back to a default.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub issuer: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub signing_alg: Option<String>,
    pub default_audience: Option<String>,
    pub introspection_cache: Option<u64>,
    pub sqlite_synchronous: Option<String>,
    pub database_url: Option<String>,
    pub db_pool_size: Option<u32>,
    pub db_statement_timeout: Option<String>,
    pub db_ssl_root_cert: Option<PathBuf>,
    pub purge_interval: Option<String>,
    pub session_ttl: Option<String>,
    pub dpop_nonce: Option<String>,
    pub master_key_file: Option<PathBuf>,
    pub log: Option<String>,
    pub log_format: Option<String>,
    pub request_timeout: Option<String>,
    pub max_connections: Option<u32>,
    pub trusted_proxies: Option<Vec<String>>,
    pub rate_limit_auth_failures: Option<String>,
    pub rate_limit_auth_failures_per_address: Option<String>,
    pub rate_limit_unauthenticated: Option<String>,
    pub rate_limit_introspection: Option<String>,
}

impl Layer {
    /// Reads `path` if given (it must exist), else `./tessera.toml` if present.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("tessera.toml"), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(s) => toml::from_str(&s).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message())),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read config file {}", path.display())),
        }
    }
}

/// Where the data lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// The embedded default: one file, one node.
    Sqlite(PathBuf),
    /// Shared by any number of nodes; the URL may carry a password.
    Postgres(String),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(p) => f.debug_tuple("Sqlite").field(p).finish(),
            Self::Postgres(u) => f.debug_tuple("Postgres").field(&redact_url(u)).finish(),
        }
    }
}

impl Database {
    /// `postgres://…` or `postgresql://…`; `sqlite://PATH` or `sqlite:PATH`;
    /// nothing: `DATA_DIR/tessera.db`.
    pub fn parse(url: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(Self::Sqlite(data_dir.join("tessera.db")));
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            url::Url::parse(url).map_err(|e| anyhow::anyhow!("database URL {} is not a URL: {e}", redact_url(url)))?;
            return Ok(Self::Postgres(url.to_string()));
        }
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                bail!("database URL {url:?} names no file; use sqlite://PATH");
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        bail!("database URL {} is not postgres://… or sqlite://PATH", redact_url(url))
    }
}

/// The resolved, checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub issuer: String,
    /// Whether the issuer was given (flag, environment or file) rather than
    /// derived from `listen`: see [`Config::adopt_recorded_issuer`].
    pub issuer_given: bool,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub signing_alg: Algorithm,
    pub default_audience: String,
    /// Whether `default_audience` was given rather than taken from the issuer.
    pub default_audience_given: bool,
    pub introspection_cache: u64,
    pub durability: tessera_store::Durability,
    pub database: Database,
    /// PostgreSQL: connections per node.
    pub db_pool_size: u32,
    /// PostgreSQL: longest a statement may run.
    pub db_statement_timeout: Duration,
    /// PostgreSQL: CA certificate for `sslmode=verify-ca|verify-full`.
    pub db_ssl_root_cert: Option<PathBuf>,
    pub purge_interval: Duration,
    pub master_key_file: PathBuf,
    /// Browser sessions last this long after sign-in, in seconds.
    pub session_ttl: i64,
    /// Whether DPoP proofs at the token endpoint and UserInfo must carry a server nonce.
    pub dpop_nonce: tessera_core::dpop::NonceMode,
    /// Longest a request may take (the revocation long-poll gets its wait on top).
    pub request_timeout: Duration,
    /// Open connections; past this, new ones wait in the listen backlog.
    pub max_connections: usize,
    /// Peers whose `Forwarded` / `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<Cidr>,
    pub rate_limits: RateLimits,
}

/// Per-node GCRA limits; `None` is off. See README "Rate limits".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Failed client authentications per `client_id`.
    pub auth_failures: Option<Rate>,
    /// Failed client authentications per client address.
    pub auth_failures_per_address: Option<Rate>,
    /// `authorize`, `device_authorization`, `/login`, `/device`, `/consent` per address.
    pub unauthenticated: Option<Rate>,
    /// Introspection requests per client.
    pub introspection: Option<Rate>,
}

pub const DEFAULT_REQUEST_TIMEOUT: &str = "30s";
pub const DEFAULT_RATE_AUTH_FAILURES: &str = "30/m";
pub const DEFAULT_RATE_AUTH_FAILURES_PER_ADDRESS: &str = "60/m";
pub const DEFAULT_RATE_UNAUTHENTICATED: &str = "6000/m";
pub const DEFAULT_RATE_INTROSPECTION: &str = "50000/s";

/// A rate: `count` requests per `per`, in a burst of up to `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: std::num::NonZeroU32,
    pub per: Duration,
}

impl Rate {
    /// `N/s`, `N/m` or `N/h`; `0` or `off` is no limit (`None`).
    pub fn parse(s: &str) -> anyhow::Result<Option<Self>> {
        let s = s.trim();
        if s == "0" || s.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let bad = || anyhow::anyhow!("rate {s:?} is not like 100/s, 600/m, 1000/h, 0 or off");
        let (n, unit) = s.split_once('/').ok_or_else(bad)?;
        let per = match unit.trim() {
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        match std::num::NonZeroU32::new(n) {
            None => Ok(None),
            Some(count) if n <= 1_000_000 => Ok(Some(Self { count, per })),
            Some(_) => bail!("rate {s:?}: at most 1000000 per unit"),
        }
    }
}

impl Rate {
    /// A client's `--rate-limit` as stored; `None` if it limits nothing.
    pub fn from_client(r: tessera_core::client::RateLimit) -> Option<Self> {
        let count = std::num::NonZeroU32::new(r.count)?;
        (r.per_seconds > 0).then(|| Self { count, per: Duration::from_secs(u64::from(r.per_seconds)) })
    }

    pub fn to_client(self) -> tessera_core::client::RateLimit {
        let per_seconds = u32::try_from(self.per.as_secs()).unwrap_or(u32::MAX);
        tessera_core::client::RateLimit { count: self.count.get(), per_seconds }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "m",
            _ => "h",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// Open files allowed to this process (soft `RLIMIT_NOFILE`), from
/// `/proc/self/limits`; `None` where that cannot be read.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Below the file limit (with room for the database, logs and the listen
/// socket), so a flood of connections meets the cap, not `EMFILE`; at most
/// 10000, each an idle task costing a few KiB.
fn default_max_connections() -> usize {
    open_file_limit().map(|n| n.saturating_sub(256)).unwrap_or(1024).clamp(64, 10_000)
}

impl Config {
    /// `o` (flags and environment) wins over `f` (the file).
    pub fn resolve(o: Layer, f: Layer) -> anyhow::Result<Self> {
        let data_dir = o.data_dir.or(f.data_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let listen_s = o.listen.or(f.listen).unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen: SocketAddr =
            listen_s.parse().with_context(|| format!("--listen {listen_s:?} is not an address like 127.0.0.1:8080"))?;
        let tls = match (o.tls_cert.or(f.tls_cert), o.tls_key.or(f.tls_key)) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => bail!("--tls-cert and --tls-key must be given together"),
        };
        let issuer_given = o.issuer.is_some() || f.issuer.is_some();
        let issuer = match o.issuer.or(f.issuer) {
            Some(i) => i,
            None if listen.ip().is_unspecified() => {
                bail!("--issuer is required when listening on {listen}: give the public URL clients use")
            }
            None => format!("{}://{}", if tls.is_some() { "https" } else { "http" }, listen),
        };
        let issuer = check_issuer(&issuer)?;
        let alg_s = o.signing_alg.or(f.signing_alg).unwrap_or_else(|| "EdDSA".into());
        let signing_alg = Algorithm::parse(&alg_s)
            .with_context(|| format!("signing algorithm {alg_s:?} is not one of EdDSA, ES256, RS256"))?;
        let default_audience = o.default_audience.or(f.default_audience);
        let default_audience_given = default_audience.is_some();
        let default_audience = default_audience.unwrap_or_else(|| issuer.clone());
        tessera_core::client::validate_resource_uri(&default_audience)
            .map_err(|_| anyhow::anyhow!("default audience {default_audience:?} must be an absolute URI"))?;
        let sync = o.sqlite_synchronous.or(f.sqlite_synchronous).unwrap_or_else(|| "revocations".into());
        let durability = tessera_store::Durability::parse(&sync)
            .with_context(|| format!("sqlite synchronous mode {sync:?} is not 'full', 'revocations' or 'normal'"))?;
        let database = Database::parse(o.database_url.or(f.database_url).as_deref(), &data_dir)?;
        let db_pool_size = o.db_pool_size.or(f.db_pool_size).unwrap_or(16);
        if !(1..=1000).contains(&db_pool_size) {
            bail!("database pool size {db_pool_size} must be between 1 and 1000");
        }
        let timeout = o.db_statement_timeout.or(f.db_statement_timeout).unwrap_or_else(|| "5s".into());
        let db_statement_timeout = Duration::from_secs(parse_duration(&timeout).context("statement timeout")?);
        if db_statement_timeout.is_zero() {
            bail!("statement timeout {timeout:?} must be at least 1s");
        }
        let db_ssl_root_cert = o.db_ssl_root_cert.or(f.db_ssl_root_cert);
        let purge = o.purge_interval.or(f.purge_interval).unwrap_or_else(|| "60s".into());
        let purge_interval = Duration::from_secs(parse_duration(&purge)?.max(1));
        let ttl = o.session_ttl.or(f.session_ttl).unwrap_or_else(|| "10h".into());
        let session_ttl = parse_duration(&ttl).context("session ttl")?;
        if !(60..=30 * 24 * 3600).contains(&session_ttl) {
            bail!("session ttl {ttl:?} must be between 1m and 30d");
        }
        let nonce = o.dpop_nonce.or(f.dpop_nonce).unwrap_or_else(|| "required".into());
        let dpop_nonce = tessera_core::dpop::NonceMode::parse(&nonce)
            .with_context(|| format!("DPoP nonce mode {nonce:?} is not 'required' or 'optional'"))?;
        let master_key_file = o.master_key_file.or(f.master_key_file).unwrap_or_else(|| data_dir.join("master.key"));
        let timeout = o.request_timeout.or(f.request_timeout).unwrap_or_else(|| DEFAULT_REQUEST_TIMEOUT.into());
        let request_timeout = Duration::from_secs(parse_duration(&timeout).context("request timeout")?);
        if !(1..=600).contains(&request_timeout.as_secs()) {
            bail!("request timeout {timeout:?} must be between 1s and 10m");
        }
        let max_connections = match o.max_connections.or(f.max_connections) {
            Some(n) if n == 0 || n > 1_000_000 => bail!("max connections {n} must be between 1 and 1000000"),
            Some(n) => n as usize,
            None => default_max_connections(),
        };
        let trusted_proxies = o
            .trusted_proxies
            .or(f.trusted_proxies)
            .unwrap_or_default()
            .iter()
            .filter(|c| !c.trim().is_empty())
            .map(|c| c.parse::<Cidr>().map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let rate = |flag: &str, v: Option<String>, default: &str| {
            Rate::parse(v.as_deref().unwrap_or(default)).with_context(|| format!("--rate-limit-{flag}"))
        };
        let rate_limits = RateLimits {
            auth_failures: rate(
                "auth-failures",
                o.rate_limit_auth_failures.or(f.rate_limit_auth_failures),
                DEFAULT_RATE_AUTH_FAILURES,
            )?,
            auth_failures_per_address: rate(
                "auth-failures-per-address",
                o.rate_limit_auth_failures_per_address.or(f.rate_limit_auth_failures_per_address),
                DEFAULT_RATE_AUTH_FAILURES_PER_ADDRESS,
            )?,
            unauthenticated: rate(
                "unauthenticated",
                o.rate_limit_unauthenticated.or(f.rate_limit_unauthenticated),
                DEFAULT_RATE_UNAUTHENTICATED,
            )?,
            introspection: rate(
                "introspection",
                o.rate_limit_introspection.or(f.rate_limit_introspection),
                DEFAULT_RATE_INTROSPECTION,
            )?,
        };
        Ok(Self {
            data_dir,
            listen,
            issuer,
            issuer_given,
            default_audience_given,
            tls,
            signing_alg,
            default_audience,
            introspection_cache: o.introspection_cache.or(f.introspection_cache).unwrap_or(10_000),
            durability,
            database,
            db_pool_size,
            db_statement_timeout,
            db_ssl_root_cert,
            purge_interval,
            master_key_file,
            session_ttl: session_ttl as i64,
            dpop_nonce,
            request_timeout,
            max_connections,
            trusted_proxies,
            rate_limits,
        })
    }
}

impl Config {
    /// CLI commands: `recorded` is the issuer `tessera serve` last recorded in
    /// the store. A given issuer must match it (tokens with another `iss`
    /// are refused by that server); with none given, the recorded one is
    /// used (and becomes the default audience, as on the server).
    pub fn adopt_recorded_issuer(&mut self, recorded: Option<String>) -> anyhow::Result<()> {
        let Some(recorded) = recorded else { return Ok(()) };
        if self.issuer == recorded {
            return Ok(());
        }
        if self.issuer_given {
            bail!(
                "issuer {} (from --issuer, TESSERA_ISSUER or tessera.toml) differs from {recorded}, the issuer the \
                 server records in its database; give that one, or none",
                self.issuer
            );
        }
        if !self.default_audience_given {
            self.default_audience = recorded.clone();
        }
        self.issuer = recorded;
        Ok(())
    }
}

/// RFC 8414 §2: an https URL with no query or fragment. Plain http is only
/// allowed on loopback, where nothing crosses a network.
pub fn check_issuer(s: &str) -> anyhow::Result<String> {
    let u = url::Url::parse(s).with_context(|| format!("issuer {s:?} is not a URL"))?;
    if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() {
        bail!("issuer {s:?} must not have a query, fragment or user info");
    }
    match u.scheme() {
        "https" => {}
        "http" if is_loopback(&u) => {}
        "http" => {
            bail!("issuer {s:?} must use https: plain http is only allowed on a loopback address")
        }
        other => bail!("issuer {s:?} has scheme {other:?}; use https"),
    }
    Ok(s.trim_end_matches('/').to_string())
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// `90`, `90s`, `15m`, `1h`, `2d` → seconds.
pub fn parse_duration(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        Some((i, 'd')) => (&s[..i], 86_400),
        _ => (s, 1),
    };
    let n: u64 = num.parse().map_err(|_| anyhow::anyhow!("{s:?} is not a duration like 90s, 15m, 1h or 2d"))?;
    n.checked_mul(mult).ok_or_else(|| anyhow::anyhow!("duration {s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        let dir = Path::new("/var/lib/tessera");
        assert_eq!(Database::parse(None, dir).unwrap(), Database::Sqlite(dir.join("tessera.db")));
        assert_eq!(Database::parse(Some(" "), dir).unwrap(), Database::Sqlite(dir.join("tessera.db")));
        assert_eq!(Database::parse(Some("sqlite:///tmp/t.db"), dir).unwrap(), Database::Sqlite("/tmp/t.db".into()));
        assert_eq!(Database::parse(Some("sqlite:rel.db?mode=rwc"), dir).unwrap(), Database::Sqlite("rel.db".into()));
        let pg = "postgres://tessera:hunter2@db.internal:5432/tessera?sslmode=verify-full";
        assert_eq!(Database::parse(Some(pg), dir).unwrap(), Database::Postgres(pg.into()));
        assert!(matches!(Database::parse(Some("postgresql://db/t"), dir).unwrap(), Database::Postgres(_)));
        for bad in ["sqlite://", "sqlite::memory:", "mysql://db/t", "db.sqlite"] {
            assert!(Database::parse(Some(bad), dir).is_err(), "{bad}");
        }
        // The password never reaches a message or a Debug print.
        let err = Database::parse(Some("postgres://u:hunter2@[::1"), dir).unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
        let dbg = format!("{:?}", Database::parse(Some(pg), dir).unwrap());
        assert!(!dbg.contains("hunter2") && dbg.contains("REDACTED"), "{dbg}");
        // Nor when it travels as a libpq query parameter.
        for pg in ["postgres://u@db/t?password=hunter2", "postgres://u@db/t?sslmode=verify-full&sslpassword=hunter2"] {
            let dbg = format!("{:?}", Database::parse(Some(pg), dir).unwrap());
            assert!(!dbg.contains("hunter2") && dbg.contains("REDACTED"), "{dbg}");
        }
    }

    #[test]
    fn issuer_rules() {
        assert!(check_issuer("http://127.0.0.1:8080").is_ok());
        assert!(check_issuer("http://localhost:8080/").is_ok());
        assert!(check_issuer("http://[::1]:8080").is_ok());
        assert!(check_issuer("https://auth.example.com").is_ok());
        assert!(check_issuer("http://auth.example.com").is_err());
        assert!(check_issuer("http://10.0.0.1").is_err());
        assert!(check_issuer("https://a.example/?x=1").is_err());
        assert!(check_issuer("ftp://a.example").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m").ok(), Some(900));
        assert_eq!(parse_duration("90").ok(), Some(90));
        assert_eq!(parse_duration("2d").ok(), Some(172_800));
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("-5s").is_err());
    }

    #[test]
    fn rates() {
        let r = Rate::parse("100/s").ok().flatten().map(|r| (r.count.get(), r.per.as_secs()));
        assert_eq!(r, Some((100, 1)));
        assert_eq!(Rate::parse(" 600/m").ok().flatten().map(|r| r.to_string()), Some("600/m".into()));
        assert_eq!(Rate::parse("off").ok(), Some(None));
        assert_eq!(Rate::parse("0").ok(), Some(None));
        assert_eq!(Rate::parse("0/s").ok(), Some(None));
        for bad in ["100", "100/d", "x/s", "-1/s", "/s", "2000000/s"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_and_proxies() {
        let c = Config::resolve(Layer::default(), Layer::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert!(c.max_connections >= 64 && c.rate_limits.unauthenticated.is_some());
        assert!(c.trusted_proxies.is_empty());
        let o = Layer {
            trusted_proxies: Some(vec!["10.0.0.0/8".into(), "::1".into()]),
            rate_limit_introspection: Some("off".into()),
            request_timeout: Some("5s".into()),
            max_connections: Some(100),
            ..Default::default()
        };
        let c = Config::resolve(o, Layer::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.trusted_proxies.len(), c.rate_limits.introspection), (2, None));
        assert_eq!((c.request_timeout.as_secs(), c.max_connections), (5, 100));
        for bad in [
            Layer { trusted_proxies: Some(vec!["10.0.0.0/33".into()]), ..Default::default() },
            Layer { rate_limit_unauthenticated: Some("lots".into()), ..Default::default() },
            Layer { request_timeout: Some("0s".into()), ..Default::default() },
            Layer { max_connections: Some(0), ..Default::default() },
        ] {
            assert!(Config::resolve(bad, Layer::default()).is_err());
        }
    }

    #[test]
    fn precedence_and_defaults() {
        let f = Layer {
            listen: Some("127.0.0.1:9000".into()),
            issuer: Some("http://127.0.0.1:1".into()),
            ..Default::default()
        };
        let o = Layer { issuer: Some("https://id.example".into()), ..Default::default() };
        let c = Config::resolve(o, f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.issuer, "https://id.example");
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.default_audience, "https://id.example");
        assert_eq!(c.dpop_nonce, tessera_core::dpop::NonceMode::Required);
        let optional = Layer { dpop_nonce: Some("optional".into()), ..Default::default() };
        let c = Config::resolve(optional, Layer::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.dpop_nonce, tessera_core::dpop::NonceMode::Optional);
        let bad = Layer { dpop_nonce: Some("sometimes".into()), ..Default::default() };
        assert!(Config::resolve(bad, Layer::default()).is_err());
        let open = Layer { listen: Some("0.0.0.0:8080".into()), ..Default::default() };
        assert!(Config::resolve(open, Layer::default()).is_err());
    }

    #[test]
    fn recorded_issuer() {
        let derived = Config::resolve(Layer::default(), Layer::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!derived.issuer_given);
        let mut c = derived.clone();
        c.adopt_recorded_issuer(None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.issuer, "http://127.0.0.1:8080", "nothing recorded: the default, as before");
        c.adopt_recorded_issuer(Some("https://id.example".into())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.issuer.as_str(), c.default_audience.as_str()), ("https://id.example", "https://id.example"));
        let given = Layer { issuer: Some("https://id.example/".into()), ..Default::default() };
        let mut c = Config::resolve(given.clone(), Layer::default()).unwrap_or_else(|e| panic!("{e}"));
        c.adopt_recorded_issuer(Some("https://id.example".into())).unwrap_or_else(|e| panic!("{e}"));
        let mut c = Config::resolve(Layer::default(), given).unwrap_or_else(|e| panic!("{e}"));
        let err = c.adopt_recorded_issuer(Some("https://other.example".into())).unwrap_err().to_string();
        assert!(err.contains("https://id.example") && err.contains("https://other.example"), "{err}");
    }
}
