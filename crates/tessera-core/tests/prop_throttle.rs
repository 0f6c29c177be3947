//! Property tests of the sign-in throttle: its rule (`admit`, `record`,
//! `forgive`, `wait`) and the per-process table built on it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use tessera_core::throttle::{self, Count, FREE_FAILURES, MAX_DELAY, Throttle, WINDOW};

const T0: i64 = 1_800_000_000;

/// Failure times within one window, in order.
fn failures_in_window() -> impl Strategy<Value = Vec<i64>> {
    prop::collection::vec(0..WINDOW, 0..40).prop_map(|mut v| {
        v.sort_unstable();
        v.into_iter().map(|d| T0 + d).collect()
    })
}

fn count_after(times: &[i64]) -> Option<Count> {
    times.iter().fold(None, |c, t| Some(throttle::record(c, *t)))
}

proptest! {
    /// However many attempts arrive at one instant, only the free failures
    /// are admitted: the count is taken before any password is checked.
    #[test]
    fn a_burst_admits_only_the_free_failures(n in 0usize..500, at in 0..WINDOW) {
        let now = T0 + at;
        let mut count = None;
        let mut admitted = 0;
        for _ in 0..n {
            if let Ok(next) = throttle::admit(count, now) {
                count = Some(next);
                admitted += 1;
            }
        }
        prop_assert_eq!(admitted, n.min(FREE_FAILURES as usize));
    }

    /// The wait is 0 below the free failures, never above the maximum, and
    /// only shrinks as time passes.
    #[test]
    fn the_wait_is_bounded_and_shrinks_with_time(times in failures_in_window(), later in 0..2 * WINDOW) {
        let count = count_after(&times);
        let last = times.last().copied().unwrap_or(T0);
        let w = throttle::wait(count, last);
        prop_assert!((0..=MAX_DELAY).contains(&w));
        if times.len() < FREE_FAILURES as usize {
            prop_assert_eq!(w, 0);
        }
        prop_assert!(throttle::wait(count, last + later) <= w);
    }

    /// Right after the n-th failure (n ≥ 5) the wait is 2^(n-5) seconds,
    /// capped at the maximum.
    #[test]
    fn the_delay_doubles_with_each_failure(n in FREE_FAILURES..40) {
        let times: Vec<i64> = (0..i64::from(n)).map(|i| T0 + i).collect();
        let last = *times.last().unwrap();
        let expected = (1i64 << (n - FREE_FAILURES).min(20)).min(MAX_DELAY);
        prop_assert_eq!(throttle::wait(count_after(&times), last), expected);
    }

    /// Once the window has passed, the next attempt is admitted and starts a
    /// new window, whatever came before.
    #[test]
    fn a_passed_window_forgets_everything(times in failures_in_window(), after in 0..WINDOW) {
        let count = count_after(&times);
        let first = count.map_or(T0, |c| c.first);
        let now = first + WINDOW + after;
        prop_assert_eq!(throttle::admit(count, now), Ok(Count { failures: 1, first: now, last: now }));
    }

    /// Forgiving an attempt counted in advance takes back exactly that one.
    #[test]
    fn forgive_undoes_one_advance_count(times in failures_in_window(), dt in 0..60i64) {
        let count = count_after(&times);
        let now = times.last().copied().unwrap_or(T0) + dt;
        prop_assume!(count.is_none_or(|c| now - c.first < WINDOW));
        let before = count.map_or(0, |c| c.failures);
        let after = throttle::forgive(Some(throttle::record(count, now))).map_or(0, |c| c.failures);
        prop_assert_eq!(after, before);
    }

    /// The table agrees with the rule, key by key, and keys never affect
    /// each other.
    #[test]
    fn the_table_follows_the_rule_per_key(ops in prop::collection::vec((0u8..4, 0u8..3, 0..30i64), 0..200)) {
        let t = Throttle::default();
        let mut model: [Option<Count>; 3] = [None; 3];
        let mut now = T0;
        for (op, key, dt) in ops {
            now += dt;
            let name = format!("user:k{key}");
            let m = &mut model[usize::from(key)];
            match op {
                0 => {
                    let got = t.begin(&[&name], now);
                    let want = throttle::admit(*m, now);
                    prop_assert_eq!(got.is_ok(), want.is_ok());
                    if let Ok(c) = want {
                        *m = Some(c);
                    }
                }
                1 => {
                    t.failure(&name, now);
                    *m = Some(throttle::record(*m, now));
                }
                2 => {
                    t.forgive(&name);
                    *m = throttle::forgive(*m);
                }
                _ => {
                    t.success(&name);
                    *m = None;
                }
            }
            for (k, c) in model.iter().enumerate() {
                prop_assert_eq!(t.wait(&format!("user:k{k}"), now), throttle::wait(*c, now));
            }
        }
    }
}
