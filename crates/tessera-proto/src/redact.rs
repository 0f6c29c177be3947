//! Secrets in output: the project's one home for redaction. [`redact_url`]
//! makes a URL fit for a message, a log line or `Debug` output; [`Redacted`]
//! is what a credential (a token, a key, a password) prints as in `Debug`.

/// What replaces a secret in [`redact_url`]'s output.
pub const REDACTED: &str = "REDACTED";

/// A credential in `Debug` output: prints `[redacted]`. Every type that
/// holds a secret writes it in place of the value:
/// `f.debug_tuple("Secret").field(&Redacted).finish()` or
/// `.field("client_secret", &Redacted)`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Redacted;

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `url` fit for a message, a log line or `Debug` output: the password of the
/// user info (RFC 3986 §3.2.1) and the value of every credential-bearing query
/// or fragment parameter (see [`is_sensitive_param`]) become `REDACTED`;
/// a string with no `scheme://` (a key-value DSN such as
/// `host=db password=…`) is hidden whole. The one redaction function of the
/// project: the server, the store, the CLI and the libraries all call it.
pub fn redact_url(url: &str) -> String {
    let (rest, fragment) = match url.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (url, None),
    };
    let (head, query) = match rest.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (rest, None),
    };
    let Some((scheme, rest)) = head.split_once("://") else { return "(unparseable URL)".into() };
    // The last '@' ends the user info even if the password holds unescaped '@' or '/'.
    let mut out = match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:{REDACTED}@{host}"),
            None => format!("{scheme}://{userinfo}@{host}"),
        },
        None => format!("{scheme}://{rest}"),
    };
    for (sep, params) in [('?', query), ('#', fragment)] {
        if let Some(params) = params {
            out.push(sep);
            out.push_str(&redact_params(params));
        }
    }
    out
}

fn redact_params(params: &str) -> String {
    let parts: Vec<String> = params
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if is_sensitive_param(k) => format!("{k}={REDACTED}"),
            _ => p.to_string(),
        })
        .collect();
    parts.join("&")
}

/// A parameter name (percent-decoded, any case) whose value is a credential:
/// anything with `password`, `passwd`, `secret` or `token` in it (libpq's
/// `password` and `sslpassword`, `client_secret`, `access_token`,
/// `refresh_token`, `id_token`), `code` and `*_code` (authorization, device
/// and user codes), `code_verifier`, `client_assertion`, `assertion` and API
/// keys. Not `sslkey`/`sslcert`: those name files, and the path helps debugging.
pub fn is_sensitive_param(name: &str) -> bool {
    let decoded = percent_decode(name);
    let k = decoded.to_ascii_lowercase();
    ["password", "passwd", "secret", "token", "assertion"].iter().any(|w| k.contains(w))
        || k == "code"
        || k.ends_with("_code")
        || k == "code_verifier"
        || k == "pwd"
        || k == "key"
        || k == "apikey"
        || k == "api_key"
}

/// `%XX` escapes and `+` decoded, as in a form; invalid escapes kept as they are.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redacted_value_prints_one_marker() {
        assert_eq!(format!("{Redacted:?}"), "[redacted]");
        let s = format!("{:?}", (Some(Redacted), "x"));
        assert_eq!(s, r#"(Some([redacted]), "x")"#);
    }

    #[test]
    fn urls_are_redacted() {
        let cases = [
            (
                "postgres://tessera:hunter2@db:5432/t?sslmode=verify-full",
                "postgres://tessera:REDACTED@db:5432/t?sslmode=verify-full",
            ),
            ("postgres://u:p@ss/w@rd@db/t", "postgres://u:REDACTED@db/t"),
            ("postgres://postgres@127.0.0.1/t", "postgres://postgres@127.0.0.1/t"),
            ("postgresql://db/t?user=u&password=hunter2", "postgresql://db/t?user=u&password=REDACTED"),
            ("postgresql://db/t?PassWord=hunter2&x", "postgresql://db/t?PassWord=REDACTED&x"),
            ("postgresql://db/t?pass%77ord=hunter2", "postgresql://db/t?pass%77ord=REDACTED"),
            (
                "postgres://db/t?sslpassword=hunter2&sslkey=/k.pem&sslmode=verify-full",
                "postgres://db/t?sslpassword=REDACTED&sslkey=/k.pem&sslmode=verify-full",
            ),
            (
                "https://app.example/cb?code=tsr_ac_hunter2&state=s&iss=https%3A%2F%2Fid",
                "https://app.example/cb?code=REDACTED&state=s&iss=https%3A%2F%2Fid",
            ),
            (
                "https://app.example/cb#access_token=tsr_at_hunter2&token_type=Bearer&state=s",
                "https://app.example/cb#access_token=REDACTED&token_type=REDACTED&state=s",
            ),
            ("https://id.example/t?client_secret=hunter2", "https://id.example/t?client_secret=REDACTED"),
            ("host=db password=hunter2", "(unparseable URL)"),
        ];
        for (url, want) in cases {
            assert_eq!(redact_url(url), want, "{url}");
        }
        for name in ["refresh_token", "device_code", "user_code", "code_verifier", "client_assertion", "api_key"] {
            assert!(is_sensitive_param(name), "{name}");
        }
        for name in ["state", "scope", "sslmode", "sslrootcert", "user", "client_id", "redirect_uri"] {
            assert!(!is_sensitive_param(name), "{name}");
        }
    }
}
