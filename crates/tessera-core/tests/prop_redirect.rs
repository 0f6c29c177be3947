//! Property tests of redirect URI matching: exact string match only
//! (OAuth 2.1 §2.3.1, RFC 9700 §4.1.3), except any port on a loopback IP
//! literal over http for native apps (RFC 8252 §7.3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use tessera_core::redirect_uri::{match_registered, validate_registration};

fn host() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,8}(\\.[a-z][a-z0-9]{0,8}){1,3}"
}

fn path() -> impl Strategy<Value = String> {
    "(/[a-zA-Z0-9_~-]{1,8}){0,4}".prop_map(|p| if p.is_empty() { "/".into() } else { p })
}

fn query() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[a-z]{1,5}=[a-zA-Z0-9]{0,6}(&[a-z]{1,5}=[a-zA-Z0-9]{0,6}){0,2}")
}

fn uri(scheme: &str, authority: &str, path: &str, query: &Option<String>) -> String {
    match query {
        Some(q) => format!("{scheme}://{authority}{path}?{q}"),
        None => format!("{scheme}://{authority}{path}"),
    }
}

/// What an attacker might change in a registered URI.
#[derive(Debug, Clone)]
enum Change {
    Scheme,
    Host(String),
    HostCase,
    Port(u16),
    Path(String),
    PathCase,
    TrailingSlash,
    Query(String),
    DropQuery,
    Userinfo(String),
    Fragment(String),
    Encode,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        Just(Change::Scheme),
        "[a-z]{1,6}".prop_map(Change::Host),
        Just(Change::HostCase),
        (1u16..).prop_map(Change::Port),
        "/[a-z]{1,6}".prop_map(Change::Path),
        Just(Change::PathCase),
        Just(Change::TrailingSlash),
        "[a-z]{1,4}=[a-z0-9]{0,4}".prop_map(Change::Query),
        Just(Change::DropQuery),
        prop_oneof!["[a-z]{1,6}(:[a-z]{0,4})?", ":[a-z]{1,4}"].prop_map(Change::Userinfo),
        "[a-z]{0,6}".prop_map(Change::Fragment),
        Just(Change::Encode),
    ]
}

/// Applies `c` to `(scheme, authority, path, query)`; `None` when it would
/// not change the URI (e.g. upper-casing a path with no letters).
fn apply(c: &Change, scheme: &str, authority: &str, path: &str, query: &Option<String>) -> Option<String> {
    let (mut s, mut a, mut p, mut q) = (scheme.to_string(), authority.to_string(), path.to_string(), query.clone());
    let mut fragment = None;
    match c {
        Change::Scheme => s = if s == "https" { "http".into() } else { "https".into() },
        Change::Host(x) => a = format!("{x}.{a}"),
        Change::HostCase => a = a.to_uppercase(),
        Change::Port(n) => a = format!("{a}:{n}"),
        Change::Path(x) => p = format!("{}{x}", p.trim_end_matches('/')),
        Change::PathCase => p = p.to_uppercase(),
        Change::TrailingSlash => p.push('/'),
        Change::Query(x) => q = Some(q.map_or(x.clone(), |q| format!("{q}&{x}"))),
        Change::DropQuery => q = None,
        Change::Userinfo(u) => a = format!("{u}@{a}"),
        Change::Fragment(f) => fragment = Some(f.clone()),
        Change::Encode => p = p.replacen(|ch: char| ch.is_ascii_alphanumeric(), "%61", 1),
    }
    let mut out = uri(&s, &a, &p, &q);
    if let Some(f) = fragment {
        out = format!("{out}#{f}");
    }
    (out != uri(scheme, authority, path, query)).then_some(out)
}

proptest! {
    #[test]
    fn a_registered_uri_matches_itself_and_nothing_near_it(h in host(), p in path(), q in query(), c in change()) {
        let reg = uri("https", &h, &p, &q);
        prop_assert_eq!(validate_registration(&reg), Ok(()));
        let registered = vec![reg.clone()];
        prop_assert_eq!(match_registered(&registered, &reg).map(|m| m.as_str().to_string()), Some(reg.clone()));
        if let Some(changed) = apply(&c, "https", &h, &p, &q) {
            prop_assert!(match_registered(&registered, &changed).is_none(), "{} matched {}", changed, reg);
        }
    }

    #[test]
    fn loopback_ip_over_http_matches_on_any_port(
        ip in prop_oneof![Just("127.0.0.1"), Just("[::1]")],
        reg_port in prop::option::of(1u16..),
        port in 1u16..,
        p in path(),
        q in query(),
    ) {
        let authority = |port: Option<u16>| port.map_or(ip.to_string(), |n| format!("{}:{}", ip, n));
        let reg = uri("http", &authority(reg_port), &p, &q);
        prop_assert_eq!(validate_registration(&reg), Ok(()));
        let requested = uri("http", &authority(Some(port)), &p, &q);
        // Port 80 is the default: the URL parser drops it, so `:80` is not
        // the normal form and matches only when registered so, exactly.
        let expected = port != 80 || reg_port == Some(80);
        prop_assert_eq!(match_registered(&[reg], &requested).is_some(), expected, "{}", requested);
    }

    #[test]
    fn loopback_matches_nothing_else_changed(
        ip in prop_oneof![Just("127.0.0.1"), Just("[::1]")],
        port in 1024u16..,
        p in path(),
        q in query(),
        c in change(),
    ) {
        prop_assume!(!matches!(c, Change::Port(_)));
        let reg = uri("http", ip, &p, &q);
        let requested_authority = format!("{}:{}", ip, port);
        if let Some(changed) = apply(&c, "http", &requested_authority, &p, &q) {
            prop_assert!(match_registered(std::slice::from_ref(&reg), &changed).is_none(), "{} matched {}", changed, reg);
        }
    }

    #[test]
    fn other_hosts_never_get_another_port(
        h in prop_oneof![Just("localhost".to_string()), host(), Just("127.0.0.1.example.com".to_string()), Just("127.1".to_string())],
        scheme in prop_oneof![Just("http"), Just("https")],
        port in 1024u16..,
        p in path(),
    ) {
        let reg = uri(scheme, &h, &p, &None);
        let requested = uri(scheme, &format!("{}:{}", h, port), &p, &None);
        prop_assert!(match_registered(&[reg], &requested).is_none(), "{}", requested);
    }

    #[test]
    fn https_loopback_gets_no_port_exception(ip in prop_oneof![Just("127.0.0.1"), Just("[::1]")], port in 1024u16.., p in path()) {
        let reg = uri("https", ip, &p, &None);
        let requested = uri("https", &format!("{}:{}", ip, port), &p, &None);
        prop_assert!(match_registered(&[reg], &requested).is_none(), "{}", requested);
    }
}
