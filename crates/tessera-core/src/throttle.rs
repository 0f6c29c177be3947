//! Login throttling (RFC 9700 is silent; NIST SP 800-63B §5.2.2 asks for
//! it): after [`FREE_FAILURES`] failed sign-ins for one account or from one
//! address within [`WINDOW`] seconds, each further attempt must wait a delay
//! that doubles with every failure, up to [`MAX_DELAY`]. An attempt during
//! the delay is refused without checking the password, so guessing gains
//! nothing. Kept per process (a cluster multiplies the budget by its nodes).

use std::collections::HashMap;
use std::sync::Mutex;

pub const FREE_FAILURES: u32 = 5;
pub const WINDOW: i64 = 15 * 60;
pub const MAX_DELAY: i64 = 15 * 60;
/// Beyond this many tracked keys, the oldest entries are dropped.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    first: i64,
    last: i64,
}

#[derive(Debug, Default)]
pub struct Throttle {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Throttle {
    /// Seconds to wait before `key` may try again; 0 if it may now.
    pub fn wait(&self, key: &str, now: i64) -> i64 {
        let Ok(m) = self.entries.lock() else { return MAX_DELAY };
        match m.get(key) {
            Some(e) if now - e.first < WINDOW && e.failures >= FREE_FAILURES => {
                (e.last + delay(e.failures) - now).max(0)
            }
            _ => 0,
        }
    }

    pub fn failure(&self, key: &str, now: i64) {
        let Ok(mut m) = self.entries.lock() else { return };
        if m.len() >= MAX_KEYS && !m.contains_key(key) {
            m.retain(|_, e| now - e.first < WINDOW);
            if m.len() >= MAX_KEYS {
                m.clear();
            }
        }
        let e = m.entry(key.to_string()).or_insert(Entry { failures: 0, first: now, last: now });
        if now - e.first >= WINDOW {
            *e = Entry { failures: 0, first: now, last: now };
        }
        e.failures += 1;
        e.last = now;
    }

    pub fn success(&self, key: &str) {
        if let Ok(mut m) = self.entries.lock() {
            m.remove(key);
        }
    }
}

/// 1 s after the fifth failure, then 2, 4, 8 … capped at [`MAX_DELAY`].
fn delay(failures: u32) -> i64 {
    let n = failures.saturating_sub(FREE_FAILURES).min(20);
    (1i64 << n).min(MAX_DELAY)
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
}
