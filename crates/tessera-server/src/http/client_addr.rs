//! The client's address: the TCP peer, or, when the peer is a trusted proxy
//! (`--trusted-proxy CIDR`), the rightmost untrusted hop of `Forwarded`
//! (RFC 7239 §5.2) or `X-Forwarded-For`. Values left of that hop were
//! written by the client and are never believed. Resolved once per request
//! by [`resolve`] into a [`ClientAddr`] request extension that handlers and
//! the rate limits read.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderName, header};

/// Hops looked at, from the right: a chain longer than any real deployment's
/// costs no more than this, however large the headers.
const MAX_HOPS: usize = 32;

/// The address a request is attributed to (sign-in throttle, rate limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// From the request's extensions; `None` without a peer (in-process tests).
    pub fn of(ext: &axum::http::Extensions) -> Option<IpAddr> {
        ext.get::<ClientAddr>().map(|c| c.0)
    }
}

/// One `--trusted-proxy` network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// `10.0.0.0/8`, `2001:db8::/32`, or one address (`/32` or `/128`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("trusted proxy {s:?} is not an address or a network like 10.0.0.0/8");
        let (a, p) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr = canonical(a.parse::<IpAddr>().map_err(|_| bad())?);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }
}

/// IPv4-mapped IPv6 (`::ffff:10.0.0.1`, a dual-stack socket's view) is IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The client address of a request from `peer` with `headers`. With no
/// trusted proxies, or a peer that is not one, forwarding headers are ignored.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    // `Forwarded` is the standard; a proxy that writes it is believed over
    // `X-Forwarded-For`, never a mix of the two.
    let hops = if headers.contains_key(header::FORWARDED) {
        rightmost_hops(headers, &header::FORWARDED, forwarded_for)
    } else {
        rightmost_hops(headers, &HeaderName::from_static("x-forwarded-for"), |h| Some(h.trim()))
    };
    // Right to left: the nearest hop was written by our trusted peer, each
    // further one by the hop before it, while that hop is trusted.
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) if is_trusted(*ip) => nearest = *ip,
            Some(ip) => return *ip,
            // `unknown` or an obfuscated id (RFC 7239 §6.3): who is behind it
            // cannot be told apart, so they share the address that reported them.
            None => return nearest,
        }
    }
    nearest
}

/// The last [`MAX_HOPS`] hops of every line of `name`, parsed; `None` for a
/// hop that is not an address.
fn rightmost_hops<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
    value: impl Fn(&'a str) -> Option<&'a str>,
) -> Vec<Option<IpAddr>> {
    let mut hops = std::collections::VecDeque::with_capacity(MAX_HOPS);
    for line in headers.get_all(name) {
        // A line that is not visible ASCII cannot be told from a forgery: it
        // ends the chain as an unknown hop.
        let Ok(line) = line.to_str() else {
            push_capped(&mut hops, None);
            continue;
        };
        for element in line.split(',') {
            push_capped(&mut hops, value(element).and_then(parse_node));
        }
    }
    hops.into()
}

fn push_capped(hops: &mut std::collections::VecDeque<Option<IpAddr>>, hop: Option<IpAddr>) {
    if hops.len() == MAX_HOPS {
        hops.pop_front();
    }
    hops.push_back(hop);
}

/// The `for=` of one `Forwarded` element (`for=192.0.2.60;proto=https;by=…`).
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim().eq_ignore_ascii_case("for").then(|| v.trim().trim_matches('"'))
    })
}

/// `192.0.2.43`, `192.0.2.43:47011`, `[2001:db8::17]`, `[2001:db8::17]:4711`
/// or a bare IPv6 address; anything else (`unknown`, `_hidden`) is `None`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    if let Some(rest) = node.strip_prefix('[') {
        let (ip, _port) = rest.split_once(']')?;
        return ip.parse::<std::net::Ipv6Addr>().ok().map(|ip| canonical(IpAddr::V6(ip)));
    }
    node.parse::<IpAddr>().ok().or_else(|| node.parse::<SocketAddr>().ok().map(|s| s.ip())).map(canonical)
}

/// Stores the request's [`ClientAddr`] for everything after it (called by
/// the one per-request middleware, [`super::conn::deadline`]).
pub fn resolve(net: &super::Net, req: &mut Request) {
    if net.trusted_proxies.is_empty() {
        warn_if_proxied(req.headers());
    }
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let ip = client_ip(peer.ip(), req.headers(), &net.trusted_proxies);
        req.extensions_mut().insert(ClientAddr(ip));
    }
}

/// Forwarding headers with no trusted proxy configured: every client may
/// share the proxy's address (one throttle for all), so say it once.
fn warn_if_proxied(headers: &HeaderMap) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let proxied = headers.contains_key("forwarded") || headers.contains_key("x-forwarded-for");
    if proxied && !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(
            "requests carry Forwarded/X-Forwarded-For but no --trusted-proxy is set: the headers are ignored and \
             clients behind the proxy share its address for throttling and rate limits"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| IpAddr::from([0, 0, 0, 0]))
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("x")));
        }
        h
    }

    fn trusted(list: &[&str]) -> Vec<Cidr> {
        list.iter().filter_map(|c| c.parse().ok()).collect()
    }

    #[test]
    fn cidrs() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap_or(Cidr { addr: ip("0.0.0.0"), prefix: 32 });
        assert!(c.contains(ip("10.1.2.3")) && !c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.0.0.1")), "IPv4-mapped");
        let one: Result<Cidr, _> = "2001:db8::1".parse();
        assert_eq!(one.map(|c| c.prefix), Ok(128));
        let all: Result<Cidr, _> = "0.0.0.0/0".parse();
        assert!(all.is_ok_and(|c| c.contains(ip("203.0.113.9")) && !c.contains(ip("::1"))));
        for bad in ["10.0.0.0/33", "::/129", "example.com", "10.0.0.0/", "10.0.0/8", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn no_trusted_proxy_ignores_the_headers() {
        let h = headers(&[("x-forwarded-for", "1.1.1.1"), ("forwarded", "for=2.2.2.2")]);
        assert_eq!(client_ip(ip("203.0.113.5"), &h, &[]), ip("203.0.113.5"));
    }

    #[test]
    fn an_untrusted_peer_cannot_spoof() {
        let t = trusted(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "10.0.0.1")]);
        assert_eq!(client_ip(ip("203.0.113.5"), &h, &t), ip("203.0.113.5"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_wins_over_spoofed_leftmost_values() {
        let t = trusted(&["10.0.0.0/8"]);
        // The client wrote "6.6.6.6, 7.7.7.7"; our proxy appended the client's real address.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 7.7.7.7, 198.51.100.7")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("198.51.100.7"));
        // A client that writes a trusted-looking address gains nothing.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 198.51.100.7")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("198.51.100.7"));
    }

    #[test]
    fn chains_through_several_trusted_proxies() {
        let t = trusted(&["10.0.0.0/8", "192.168.1.1"]);
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7"), ("x-forwarded-for", "192.168.1.1, 10.0.0.9")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("198.51.100.7"));
        // Every hop trusted: the leftmost one is the client.
        let h = headers(&[("x-forwarded-for", "10.1.1.1, 10.0.0.9")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("10.1.1.1"));
        // No header at all from a trusted proxy: the proxy itself.
        assert_eq!(client_ip(ip("10.0.0.2"), &HeaderMap::new(), &t), ip("10.0.0.2"));
    }

    #[test]
    fn forwarded_rfc_7239() {
        let t = trusted(&["10.0.0.0/8"]);
        let h = headers(&[(
            "forwarded",
            r#"for=6.6.6.6, For="[2001:db8:cafe::17]:4711";proto=https;by=10.0.0.9, for=10.0.0.9:8443"#,
        )]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("2001:db8:cafe::17"));
        let h = headers(&[("forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("192.0.2.60"));
        // Obfuscated or unknown: attributed to the proxy that reported it.
        let h = headers(&[("forwarded", "for=6.6.6.6, for=_hidden, for=10.0.0.9")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("10.0.0.9"));
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("10.0.0.2"));
        // Forwarded wins over X-Forwarded-For.
        let h = headers(&[("forwarded", "for=192.0.2.60"), ("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("192.0.2.60"));
    }

    #[test]
    fn many_hops_are_bounded() {
        let t = trusted(&["10.0.0.0/8"]);
        let mut v = "6.6.6.6, ".repeat(10_000);
        v.push_str("198.51.100.7");
        let h = headers(&[("x-forwarded-for", &v)]);
        assert_eq!(rightmost_hops(&h, &HeaderName::from_static("x-forwarded-for"), Some).len(), MAX_HOPS);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("198.51.100.7"));
        // More trusted hops than are looked at: the leftmost one looked at.
        let v = "10.0.0.7, ".repeat(100) + "10.0.0.8";
        let h = headers(&[("x-forwarded-for", &v)]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("10.0.0.7"));
        assert_eq!(parse_node("1.2.3.4:80"), Some(ip("1.2.3.4")));
        assert_eq!(parse_node("[::1"), None);
        assert_eq!(parse_node("2001:db8::1"), Some(ip("2001:db8::1")));
    }
}
