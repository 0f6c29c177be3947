//! Settings: command-line flag, then `TESSERA_*` environment variable (both
//! through clap), then `tessera.toml`, then the default. Checked once, at start.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use tessera_core::keys::Algorithm;

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
    pub purge_interval: Option<String>,
    pub session_ttl: Option<String>,
    pub master_key_file: Option<PathBuf>,
    pub log: Option<String>,
    pub log_format: Option<String>,
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

/// The resolved, checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub issuer: String,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub signing_alg: Algorithm,
    pub default_audience: String,
    pub introspection_cache: u64,
    pub durability: tessera_store::Durability,
    pub purge_interval: Duration,
    pub master_key_file: PathBuf,
    /// Browser sessions last this long after sign-in, in seconds.
    pub session_ttl: i64,
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
        let default_audience = o.default_audience.or(f.default_audience).unwrap_or_else(|| issuer.clone());
        tessera_core::client::validate_resource_uri(&default_audience)
            .map_err(|_| anyhow::anyhow!("default audience {default_audience:?} must be an absolute URI"))?;
        let sync = o.sqlite_synchronous.or(f.sqlite_synchronous).unwrap_or_else(|| "revocations".into());
        let durability = tessera_store::Durability::parse(&sync)
            .with_context(|| format!("sqlite synchronous mode {sync:?} is not 'full', 'revocations' or 'normal'"))?;
        let purge = o.purge_interval.or(f.purge_interval).unwrap_or_else(|| "60s".into());
        let purge_interval = Duration::from_secs(parse_duration(&purge)?.max(1));
        let ttl = o.session_ttl.or(f.session_ttl).unwrap_or_else(|| "10h".into());
        let session_ttl = parse_duration(&ttl).context("session ttl")?;
        if !(60..=30 * 24 * 3600).contains(&session_ttl) {
            bail!("session ttl {ttl:?} must be between 1m and 30d");
        }
        let master_key_file = o.master_key_file.or(f.master_key_file).unwrap_or_else(|| data_dir.join("master.key"));
        Ok(Self {
            data_dir,
            listen,
            issuer,
            tls,
            signing_alg,
            default_audience,
            introspection_cache: o.introspection_cache.or(f.introspection_cache).unwrap_or(10_000),
            durability,
            purge_interval,
            master_key_file,
            session_ttl: session_ttl as i64,
        })
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
        let open = Layer { listen: Some("0.0.0.0:8080".into()), ..Default::default() };
        assert!(Config::resolve(open, Layer::default()).is_err());
    }
}
