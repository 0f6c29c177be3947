//! Login throttling (RFC 9700 is silent; NIST SP 800-63B §5.2.2 asks for
//! it): after [`FREE_FAILURES`] failed sign-ins for one account or from one
//! address within [`WINDOW`] seconds, each further attempt must wait a delay
//! that doubles with every failure, up to [`MAX_DELAY`]. An attempt during
//! the delay is refused without checking the password, so guessing gains
//! nothing.
//!
//! An attempt is counted as a failure *before* its password is checked
//! ([`Throttle::begin`]) and forgiven afterwards if it succeeds, so a burst
//! of concurrent guesses cannot all slip through between a check and its
//! record: at most [`FREE_FAILURES`] of them reach argon2.
//!
//! The rule itself ([`admit`]) is a pure function of one key's count, so a
//! shared store can apply it with compare-and-swap ([`crate::store::AttemptStore`])
//! and every node of a cluster sees the same account counters. Per-address
//! counters stay per process.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

pub const FREE_FAILURES: u32 = 5;
pub const WINDOW: i64 = 15 * 60;
pub const MAX_DELAY: i64 = 15 * 60;
/// Beyond this many tracked keys, the oldest are dropped first.
const MAX_KEYS: usize = 100_000;

/// One key's failures within its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub failures: u32,
    /// Start of the window.
    pub first: i64,
    /// The latest failure.
    pub last: i64,
}

/// Seconds `count` must still wait at `now`; 0 if it may try.
pub fn wait(count: Option<Count>, now: i64) -> i64 {
    match count {
        Some(c) if now - c.first < WINDOW && c.failures >= FREE_FAILURES => (c.last + delay(c.failures) - now).max(0),
        _ => 0,
    }
}

/// The count after one more failure at `now`.
pub fn record(count: Option<Count>, now: i64) -> Count {
    match count {
        Some(c) if now - c.first < WINDOW => {
            Count { failures: c.failures.saturating_add(1), first: c.first, last: now }
        }
        _ => Count { failures: 1, first: now, last: now },
    }
}

/// An attempt at `now`: the count with it recorded in advance, or the
/// seconds to wait (nothing recorded).
pub fn admit(count: Option<Count>, now: i64) -> Result<Count, i64> {
    match wait(count, now) {
        0 => Ok(record(count, now)),
        w => Err(w),
    }
}

/// The count with one failure taken back (a forgiven attempt); `None` when
/// nothing is left.
pub fn forgive(count: Option<Count>) -> Option<Count> {
    count.filter(|c| c.failures > 1).map(|c| Count { failures: c.failures - 1, ..c })
}

/// 1 s after the fifth failure, then 2, 4, 8 … capped at [`MAX_DELAY`].
fn delay(failures: u32) -> i64 {
    let n = failures.saturating_sub(FREE_FAILURES).min(20);
    (1i64 << n).min(MAX_DELAY)
}

/// The throttle key of a client address: IPv4 as is, IPv6 by its /64 (one
/// subscriber usually holds a whole /64, so per-address keys would give an
/// attacker 2^64 budgets).
pub fn address_key(ip: &str) -> String {
    match ip.parse::<IpAddr>().map(|a| a.to_canonical()) {
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(IpAddr::V4(v4)) => format!("ip:{v4}"),
        // Not an address (no peer known): one shared key, never per string.
        Err(_) => "ip:unknown".into(),
    }
}

#[derive(Debug, Default)]
struct Inner {
    counts: HashMap<String, (Count, u64)>,
    /// Keys in the order they were first counted, with the stamp they had
    /// then; a stamp that no longer matches is a key since removed.
    order: VecDeque<(u64, String)>,
    next: u64,
}

impl Inner {
    fn get(&self, key: &str) -> Option<Count> {
        self.counts.get(key).map(|(c, _)| *c)
    }

    fn put(&mut self, key: &str, count: Option<Count>) {
        match count {
            None => {
                self.counts.remove(key);
            }
            Some(c) => {
                if let Some(e) = self.counts.get_mut(key) {
                    e.0 = c;
                    return;
                }
                while self.counts.len() >= MAX_KEYS {
                    self.evict_oldest();
                }
                self.next += 1;
                self.counts.insert(key.to_string(), (c, self.next));
                self.order.push_back((self.next, key.to_string()));
                if self.order.len() > 2 * MAX_KEYS {
                    let counts = &self.counts;
                    self.order.retain(|(stamp, k)| counts.get(k).is_some_and(|e| e.1 == *stamp));
                }
            }
        }
    }

    fn evict_oldest(&mut self) {
        while let Some((stamp, key)) = self.order.pop_front() {
            if self.counts.get(&key).is_some_and(|e| e.1 == stamp) {
                self.counts.remove(&key);
                return;
            }
        }
        // The order lost track (cannot happen): never grow past the bound.
        self.counts.clear();
    }
}

/// Per-process counters, bounded at `MAX_KEYS` (100,000) keys.
#[derive(Debug, Default)]
pub struct Throttle {
    inner: Mutex<Inner>,
}

impl Throttle {
    /// Seconds to wait before `key` may try again; 0 if it may now.
    pub fn wait(&self, key: &str, now: i64) -> i64 {
        let Ok(m) = self.inner.lock() else { return MAX_DELAY };
        wait(m.get(key), now)
    }

    /// Admits an attempt for every key at once, counting it as a failure of
    /// each in advance; or, if any key must wait, the longest wait and
    /// nothing counted.
    pub fn begin(&self, keys: &[&str], now: i64) -> Result<(), i64> {
        let Ok(mut m) = self.inner.lock() else { return Err(MAX_DELAY) };
        let longest = keys.iter().map(|k| wait(m.get(k), now)).max().unwrap_or(0);
        if longest > 0 {
            return Err(longest);
        }
        for k in keys {
            let c = record(m.get(k), now);
            m.put(k, Some(c));
        }
        Ok(())
    }

    /// Records a failure of `key` (an attempt not admitted through [`Self::begin`]).
    pub fn failure(&self, key: &str, now: i64) {
        let Ok(mut m) = self.inner.lock() else { return };
        let c = record(m.get(key), now);
        m.put(key, Some(c));
    }

    /// Takes back one failure counted in advance for an attempt that succeeded
    /// or could not be decided.
    pub fn forgive(&self, key: &str) {
        let Ok(mut m) = self.inner.lock() else { return };
        let c = forgive(m.get(key));
        m.put(key, c);
    }

    /// Forgets every failure of `key` (the account signed in).
    pub fn success(&self, key: &str) {
        if let Ok(mut m) = self.inner.lock() {
            m.put(key, None);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().map(|m| m.counts.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_grows_after_five_failures_and_resets() {
        let t = Throttle::default();
        for i in 0..4 {
            t.failure("alice", 100 + i);
            assert_eq!(t.wait("alice", 100 + i), 0);
        }
        t.failure("alice", 104);
        assert_eq!(t.wait("alice", 104), 1);
        t.failure("alice", 105);
        assert_eq!(t.wait("alice", 105), 2);
        t.failure("alice", 107);
        assert_eq!(t.wait("alice", 107), 4);
        assert_eq!(t.wait("alice", 111), 0);
        assert_eq!(t.wait("bob", 107), 0, "per key");
        for i in 0..20 {
            t.failure("alice", 200 + i);
        }
        assert_eq!(t.wait("alice", 219), MAX_DELAY);
        assert_eq!(t.wait("alice", 100 + WINDOW), 0, "the window passes");
        t.success("alice");
        assert_eq!(t.wait("alice", 220), 0);
    }

    #[test]
    fn a_burst_is_admitted_only_up_to_the_free_failures() {
        let t = Throttle::default();
        let admitted = (0..200).filter(|_| t.begin(&["user:alice", "ip:10.0.0.1"], 1000).is_ok()).count();
        assert_eq!(admitted, FREE_FAILURES as usize);
        // A success forgives the address its advance count and clears the account.
        t.success("user:alice");
        t.forgive("ip:10.0.0.1");
        assert_eq!(t.wait("user:alice", 1000), 0);
        assert_eq!(t.wait("ip:10.0.0.1", 1000), 0, "four failures left on the address");
    }

    #[test]
    fn a_full_table_drops_the_oldest_key_not_every_key() {
        let t = Throttle::default();
        for i in 0..MAX_KEYS {
            t.failure(&format!("user:filler{i}"), 10);
        }
        for _ in 0..FREE_FAILURES + 3 {
            t.failure("user:victim", 11);
        }
        // A flood of new keys evicts the oldest ones, never the victim's count.
        for i in 0..1000 {
            t.failure(&format!("user:newcomer{i}"), 12);
        }
        assert_eq!(t.len(), MAX_KEYS);
        assert!(t.wait("user:victim", 12) > 0, "a recent key survives eviction");
    }

    #[test]
    fn ipv6_addresses_share_their_slash_64() {
        assert_eq!(address_key("2001:db8:1:2:aaaa::1"), address_key("2001:db8:1:2:ffff:1:2:3"));
        assert_ne!(address_key("2001:db8:1:2::1"), address_key("2001:db8:1:3::1"));
        assert_eq!(address_key("::ffff:10.0.0.1"), "ip:10.0.0.1");
        assert_eq!(address_key("10.0.0.1"), "ip:10.0.0.1");
        assert_eq!(address_key("not an address at all"), "ip:unknown");
    }
}
