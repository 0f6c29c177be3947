//! Redirect URIs, scopes and the revocation feed's query string.

use tessera_core::redirect_uri::{match_registered, validate_registration};
use tessera_core::scope::ScopeSet;
use tessera_server::http::feed::{MAX_WAIT, parse_query};
use url::{Host, Url};

use crate::check_error;

/// Line 1 the requested `redirect_uri`, the other lines the registered ones.
/// A match is the exact string, or the RFC 8252 §7.3 loopback case: `http`,
/// an IP literal loopback host, same host, path and query, no userinfo or
/// fragment, the request already in the URL parser's normal form.
pub fn redirect_uri(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let mut lines = s.split('\n');
    let requested = lines.next().unwrap_or_default();
    let registered: Vec<String> = lines.map(String::from).collect();
    for r in &registered {
        if validate_registration(r).is_ok() {
            assert!(r.len() <= 2000 && !r.contains(['#', '*']), "registered {r:?}");
            let u = Url::parse(r).unwrap_or_else(|_| panic!("registered {r:?} does not parse"));
            assert!(u.username().is_empty() && u.password().is_none());
        }
    }
    let Some(m) = match_registered(&registered, requested) else { return };
    assert_eq!(m.as_str(), requested);
    if registered.iter().any(|r| r == requested) {
        return;
    }
    let req = Url::parse(requested).unwrap_or_else(|_| panic!("matched {requested:?} does not parse"));
    assert_eq!(req.as_str(), requested, "matched a URI not in normal form");
    assert_eq!(req.scheme(), "http");
    assert!(req.username().is_empty() && req.password().is_none() && req.fragment().is_none());
    let loopback = match req.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    assert!(loopback, "non-loopback {requested:?} matched on another port");
    assert!(
        registered.iter().filter_map(|r| Url::parse(r).ok()).any(|r| r.scheme() == "http"
            && r.host() == req.host()
            && r.path() == req.path()
            && r.query() == req.query()),
        "{requested:?} matched no registered URI"
    );
}

/// RFC 6749 §3.3: accepted tokens are 1–128 `scope-token` characters,
/// without repeats; the display form parses back to the same set.
pub fn scope(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let set = match ScopeSet::parse(s) {
        Ok(set) => set,
        Err(e) => return check_error(&e),
    };
    let toks: Vec<&str> = set.iter().collect();
    for (i, t) in toks.iter().enumerate() {
        assert!((1..=128).contains(&t.len()), "token of {} bytes", t.len());
        assert!(t.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)), "{t:?}");
        assert!(!toks[..i].contains(t), "{t:?} kept twice");
        assert!(set.contains(t));
    }
    let shown = set.to_string();
    assert!(shown.len() <= s.len());
    let back = ScopeSet::parse(&shown).unwrap_or_else(|e| panic!("display form refused: {e:?}"));
    assert_eq!(back, set);
    assert_eq!(back.to_string(), shown);
    assert!(set.is_subset_of(&set) && set.not_in(&set).is_empty());
}

/// `GET /oauth2/revocations?…`: accepted values are in range; refusals are
/// short, printable `invalid_request` errors.
pub fn feed_query(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    match parse_query(Some(s)) {
        Ok(q) => {
            assert!(q.after >= 0 && (1..=tessera_core::endpoint::revocation_feed::MAX_FEED_PAGE).contains(&q.limit));
            assert!(q.wait <= MAX_WAIT);
        }
        Err(e) => check_error(&e),
    }
}
