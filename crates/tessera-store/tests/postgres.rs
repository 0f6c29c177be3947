//! What only the PostgreSQL backend promises: several stores ("nodes") on
//! one database see each other's changes within a second (LISTEN/NOTIFY),
//! single-use steps stay single-use across them, revocation numbers are
//! handed out in commit order, purges on several nodes delete each row
//! once, migrations may start on several nodes at once, and a lost LISTEN
//! connection makes the generation move on every call until it is back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pg_util;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::Executor;
use tessera_core::secret::Digest;
use tessera_core::store::prelude::*;
use tessera_core::store::{Grant, Poll, Redemption, Revocation, RevokedToken, Rotation, StoreError, StoredKey};
use tessera_store::PgStore;
use tessera_store::conformance::{approval, client, code, device, refresh, scopes, session, token};

use pg_util::TestDb;

fn jti(n: u64, expires_at: i64) -> Revocation {
    Revocation { token: RevokedToken::Jti(format!("j{n}")), client_id: "c1".into(), expires_at, revoked_at: 100 }
}

/// A grant of user u1 to client c1.
fn grant(id: String, expires_at: i64) -> Grant {
    Grant {
        id,
        user_id: "u1".into(),
        client_id: "c1".into(),
        scope: scopes("a"),
        session_id: None,
        created_at: 1,
        expires_at,
    }
}

/// How long until `s`'s generation differs from `before` (panics after 2 s).
async fn generation_moves(s: &PgStore, before: u64, what: &str) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        if s.config_generation() != before {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the other node's generation did not move within 2 s after {what}");
}

async fn two_nodes(db: &TestDb) -> (Arc<PgStore>, Arc<PgStore>) {
    (Arc::new(db.store(true).await), Arc::new(db.store(false).await))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_changes_reach_the_other_node_within_a_second() {
    let db = TestDb::create().await;
    let (a, b) = two_nodes(&db).await;
    let key =
        StoredKey { kid: "k".into(), alg: "EdDSA".into(), sealed_private_key: vec![1], created_at: 1, activates_at: 1 };
    for step in ["insert_client", "set_client_secret", "insert_key", "delete_client"] {
        let before = b.config_generation();
        let own = a.config_generation();
        match step {
            "insert_client" => a.insert_client(&client("c1", 1)).await.unwrap(),
            "set_client_secret" => assert!(a.set_client_secret(&"c1".into(), Digest::of(b"s"), 2).await.unwrap()),
            "insert_key" => a.insert_key(&key).await.unwrap(),
            _ => assert!(a.delete_client(&"c1".into()).await.unwrap()),
        }
        assert!(a.config_generation() > own, "the writer's own generation moves at once ({step})");
        let took = generation_moves(&b, before, step).await;
        assert!(took < Duration::from_secs(1), "{step}: took {took:?}");
    }
    // The writer's own notification comes back to it; it must not move its
    // generation again (a cache refilled since would be flushed for nothing,
    // and "no config change" would be unobservable).
    let settled = a.config_generation();
    a.insert_token(&token(1, 1000)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(a.config_generation(), settled, "own echo or a token write moved the generation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_signal_the_other_node_within_a_second() {
    let db = TestDb::create().await;
    let (a, b) = two_nodes(&db).await;
    let mut rx = b.revocation_signal().expect("PostgreSQL signals revocations");
    rx.mark_seen();
    let start = Instant::now();
    let seq = a.revoke(&jti(1, 1000)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(2), rx.changed())
        .await
        .expect("no revocation signal within 2 s")
        .expect("the signal's sender is alive");
    let took = start.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let feed = b.revocations_after(0, 10).await.unwrap();
    assert_eq!(feed.len(), 1);
    assert_eq!((feed[0].seq, &feed[0].revocation), (seq, &jti(1, 1000)));
    assert_eq!(b.revocation_head().await.unwrap(), seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_use_steps_succeed_once_across_nodes() {
    let db = TestDb::create().await;
    let (a, b) = two_nodes(&db).await;
    let node = |i: usize| if i.is_multiple_of(2) { a.clone() } else { b.clone() };

    // Authorization code.
    let c = code(1, "c1", 160);
    a.insert_code(&c).await.unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let s = node(i);
            tokio::spawn(async move { s.redeem_code(&c.digest, &"c1".into(), 110, 1000).await.unwrap() })
        })
        .collect();
    let mut redeemed = 0;
    for t in tasks {
        match t.await.unwrap() {
            Redemption::Redeemed(_) => redeemed += 1,
            Redemption::Replayed(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(redeemed, 1, "code redemptions");
    assert!(b.get_grant("grant-1").await.unwrap().is_some());

    // Refresh rotation (family grant-1 from the code above).
    let first = refresh(1, 500);
    a.insert_refresh(&first).await.unwrap();
    let tasks: Vec<_> = (0..32u8)
        .map(|i| {
            let s = node(usize::from(i));
            tokio::spawn(async move { s.rotate_refresh(&first.digest, 200, 210, &[i], &refresh(10 + i, 600)).await })
        })
        .collect();
    let mut rotated = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            Rotation::Rotated => rotated += 1,
            Rotation::AlreadyRotated(_) => {}
            Rotation::Gone => panic!("a live token was reported gone"),
        }
    }
    assert_eq!(rotated, 1, "refresh rotations");
    let mut successors = 0;
    for i in 0..32u8 {
        successors += usize::from(a.get_refresh(&refresh(10 + i, 0).digest).await.unwrap().is_some());
    }
    assert_eq!(successors, 1, "only the winner's successor is stored");

    // Device code.
    let d = device(1);
    a.insert_device(&d).await.unwrap();
    assert!(b.decide_device(&d.user_digest, 110, Some(approval(105))).await.unwrap());
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let s = node(i);
            tokio::spawn(async move { s.poll_device(&d.device_digest, &"tv".into(), 200, 5000).await.unwrap() })
        })
        .collect();
    let mut approved = 0;
    for t in tasks {
        match t.await.unwrap() {
            Poll::Approved(_) => approved += 1,
            Poll::SlowDown(_) | Poll::Invalid => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(approved, 1, "device redemptions");
    assert!(a.get_grant("dev-grant-1").await.unwrap().is_some());
}

/// A DPoP proof seen by one node is refused by every other (RFC 9449
/// §11.1: the replay cache is cluster-wide), and a race between nodes has
/// one winner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_used_on_one_node_is_refused_on_another() {
    let db = TestDb::create().await;
    let (a, b) = two_nodes(&db).await;
    let key = [9u8; 32];
    assert!(a.first_use(&key, 165, 100).await.unwrap(), "first use on node A");
    assert!(!b.first_use(&key, 165, 101).await.unwrap(), "the same proof on node B is a replay");
    assert!(!a.first_use(&key, 165, 102).await.unwrap());
    assert!(b.first_use(&key, 300, 166).await.unwrap(), "once expired, usable again (on either node)");
    assert!(!a.first_use(&key, 300, 167).await.unwrap());

    let node = |i: usize| if i.is_multiple_of(2) { a.clone() } else { b.clone() };
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let s = node(i);
            tokio::spawn(async move { s.first_use(&[10u8; 32], 165, 100).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1, "concurrent uses on two nodes");
}

/// Refresh tokens written on one node while another revokes their grant
/// (a code replay, a disabled user): each is deleted with the grant or never
/// stored; none outlives the revocation (its entry expires, the rule not).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_refresh_token_survives_a_concurrent_grant_revocation() {
    const GRANTS: u8 = 60;
    const WRITES: u8 = 4;
    let db = TestDb::create().await;
    let (a, b) = two_nodes(&db).await;
    let family = |g: u8, i: u8| tessera_core::store::RefreshToken {
        digest: Digest::of(&[g, i, 7]),
        grant_id: format!("g{g}"),
        ..refresh(0, 500)
    };
    for g in 0..GRANTS {
        a.insert_grant(&grant(format!("g{g}"), 1000)).await.unwrap();
        assert!(a.insert_refresh(&family(g, 0)).await.unwrap());
        let mut tasks = Vec::new();
        for i in 1..=WRITES {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move { s.insert_refresh(&family(g, i)).await.map(|_| ()) }));
        }
        let (s, rotated) = (a.clone(), family(g, 100));
        tasks.push(tokio::spawn(async move {
            s.rotate_refresh(&family(g, 0).digest, 200, 210, b"s", &rotated).await.map(|_| ())
        }));
        let r = Revocation {
            token: RevokedToken::Grant(format!("g{g}")),
            client_id: "c1".into(),
            expires_at: 1000,
            revoked_at: 100,
        };
        b.revoke(&r).await.unwrap();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        for i in (0..=WRITES).chain([100]) {
            assert!(a.get_refresh(&family(g, i).digest).await.unwrap().is_none(), "grant {g}: token {i} survived");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_numbers_follow_commit_order() {
    const WRITERS: u64 = 8;
    const EACH: u64 = 25;
    let db = TestDb::create().await;
    let (a, b) = two_nodes(&db).await;
    let done = Arc::new(AtomicBool::new(false));
    // A reader on its own: whatever it sees must be 1..=k, never with a hole
    // that a later commit fills.
    let reader = {
        let (s, done) = (b.clone(), done.clone());
        tokio::spawn(async move {
            let mut reads = 0u32;
            let mut last = 0;
            loop {
                let finished = done.load(Ordering::Acquire);
                let seqs: Vec<i64> = s.revocations_after(0, 10_000).await.unwrap().iter().map(|e| e.seq).collect();
                let want: Vec<i64> = (1..=seqs.len() as i64).collect();
                assert_eq!(seqs, want, "a reader saw a later number before an earlier one committed");
                assert!(seqs.len() >= last, "entries disappeared");
                last = seqs.len();
                reads += 1;
                if finished {
                    return reads;
                }
            }
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let s = if w.is_multiple_of(2) { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..EACH {
                    seqs.push(s.revoke(&jti(w * 1000 + i, 1000)).await.unwrap());
                }
                seqs
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in writers {
        let seqs = w.await.unwrap();
        assert!(seqs.windows(2).all(|p| p[0] < p[1]), "one writer's numbers grow");
        all.extend(seqs);
    }
    done.store(true, Ordering::Release);
    assert!(reader.await.unwrap() > 1);
    all.sort_unstable();
    let n = (WRITERS * EACH) as i64;
    assert_eq!(all, (1..=n).collect::<Vec<_>>(), "numbers are 1..=N without gaps or duplicates");
    assert_eq!(a.revocation_head().await.unwrap(), n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_purges_delete_each_row_once() {
    const NOW: i64 = 1000;
    let db = TestDb::create().await;
    let (a, b) = two_nodes(&db).await;
    for n in 0..250 {
        a.insert_token(&token(n, 100)).await.unwrap();
    }
    for n in 1000..1020 {
        a.insert_token(&token(n, 10_000)).await.unwrap();
    }
    for n in 0..60 {
        b.revoke(&jti(n, 100)).await.unwrap();
    }
    for n in 100..105 {
        b.revoke(&jti(n, 10_000)).await.unwrap();
    }
    for n in 0..40u8 {
        a.insert_session(&session(n, "u1", 100)).await.unwrap();
    }
    for n in 0..30 {
        b.insert_grant(&grant(format!("g{n}"), if n < 25 { 100 } else { 10_000 })).await.unwrap();
    }
    let want = (250u64, 60u64, 40u64 + 25);
    let counts = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
    let purgers: Vec<_> = [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .map(|s| {
            let counts = counts.clone();
            tokio::spawn(async move {
                for _ in 0..2000 {
                    let total: u64 = counts.iter().map(|c| c.load(Ordering::Acquire)).sum();
                    if total >= want.0 + want.1 + want.2 {
                        return;
                    }
                    let p = s.purge_expired(NOW, 20).await.unwrap();
                    counts[0].fetch_add(p.tokens, Ordering::AcqRel);
                    counts[1].fetch_add(p.revocations, Ordering::AcqRel);
                    counts[2].fetch_add(p.other, Ordering::AcqRel);
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for p in purgers {
        p.await.unwrap();
    }
    let got = (counts[0].load(Ordering::Acquire), counts[1].load(Ordering::Acquire), counts[2].load(Ordering::Acquire));
    assert_eq!(got, want, "(tokens, revocations, sessions + grants) deleted in total");
    let last = a.purge_expired(NOW, 1000).await.unwrap();
    assert_eq!((last.tokens, last.revocations, last.other), (0, 0, 0), "nothing expired is left");
    for n in 1000..1020 {
        assert!(b.get_token(&token(n, 0).digest).await.unwrap().is_some(), "unexpired token {n} purged");
    }
    assert_eq!(b.revocations_after(0, 100).await.unwrap().len(), 5);
    assert_eq!(a.list_grants(&Default::default()).await.unwrap().len(), 5);
    assert_eq!(a.revocation_head().await.unwrap(), 65, "the head survives the purge");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_started_on_two_nodes_at_once_both_succeed() {
    let db = TestDb::create().await;
    let opts = db.options();
    let refused = PgStore::connect(&opts, false).await.expect_err("an unmigrated database is refused");
    assert!(matches!(&refused, StoreError::Unavailable(m) if m.context().contains("tessera migrate")), "{refused:?}");
    let (x, y) = tokio::join!(PgStore::connect(&opts, true), PgStore::connect(&opts, true));
    let (x, y) = (x.expect("first node"), y.expect("second node"));
    let mut conn = db.conn().await;
    let applied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").fetch_one(&mut conn).await.unwrap();
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres")).unwrap().count();
    assert_eq!(applied, shipped as i64, "every migration applied exactly once");
    x.migrate().await.expect("migrating again is a no-op");
    PgStore::migrate_with(&opts).await.expect("so is migrating without a store");
    PgStore::connect(&opts, false).await.expect("a migrated database is accepted");
    y.insert_client(&client("c1", 1)).await.unwrap();
    assert!(x.get_client(&"c1".into()).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listener_bypasses_caches_until_it_reconnects() {
    let db = TestDb::create().await;
    let (a, b) = two_nodes(&db).await;
    let mut admin = pg_util::admin().await;
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND application_name = 'tessera-listener'",
    )
    .bind(&db.name)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(killed, vec![true, true], "one listener per node");
    // Soon noticed: then every call answers a new generation.
    let start = Instant::now();
    loop {
        let (g1, g2) = (b.config_generation(), b.config_generation());
        if g1 != g2 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(2), "the lost listener was not noticed");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Back after the first backoff step (250 ms): stable again, and following.
    loop {
        let g1 = b.config_generation();
        tokio::time::sleep(Duration::from_millis(20)).await;
        if b.config_generation() == g1 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "the listener did not come back");
    }
    let before = b.config_generation();
    a.insert_client(&client("c1", 1)).await.unwrap();
    let took = generation_moves(&b, before, "insert_client after the reconnect").await;
    assert!(took < Duration::from_secs(1), "took {took:?}");
    // A store being dropped stops its listener: its connection goes away.
    drop(b);
    let start = Instant::now();
    loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'tessera-listener'",
        )
        .bind(&db.name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
        if n == 1 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(3), "a dropped store's listener lives on ({n} listeners)");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    admin.execute("SELECT 1").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_lock_fails_within_the_statement_timeout() {
    let db = TestDb::create().await;
    let mut opts = db.options();
    opts.statement_timeout = Duration::from_millis(300);
    let s = PgStore::connect(&opts, true).await.unwrap();
    // Another session holds the revocation counter, as a hung node might.
    let mut other = db.conn().await;
    other.execute("BEGIN").await.unwrap();
    other.execute("SELECT seq FROM revocation_counter FOR UPDATE").await.unwrap();
    let start = Instant::now();
    let r = s.revoke(&jti(1, 1000)).await;
    assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
    other.execute("ROLLBACK").await.unwrap();
    assert_eq!(s.revoke(&jti(1, 1000)).await.unwrap(), 1, "the failed revocation used no number");
}

/// Writes arriving together share a commit (one statement per batch): a
/// WAL flush per batch, not per request. Each still gets its own answer,
/// and each row its own key binding (half of them DPoP-bound).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_commits() {
    const N: u8 = 200;
    let db = TestDb::create().await;
    let s = Arc::new(db.store(true).await);
    fn jkt(g: u8) -> Option<String> {
        g.is_multiple_of(2).then(|| format!("jkt-{g}"))
    }
    let family = |g: u8, i: u8| tessera_core::store::RefreshToken {
        digest: Digest::of(&[g, i, 11]),
        grant_id: format!("gc{g}"),
        jkt: jkt(g),
        ..refresh(0, 500)
    };
    let access = |g: u8| tessera_core::store::OpaqueToken { jkt: jkt(g), ..token(u32::from(g) + 5000, 900) };
    for g in 0..N {
        s.insert_grant(&grant(format!("gc{g}"), 1000)).await.unwrap();
        assert!(s.insert_refresh(&family(g, 0)).await.unwrap());
    }
    let (tokens_before, rotations_before) = s.group_commits();
    let mut tasks = Vec::new();
    for g in 0..N {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let r = s.rotate_refresh(&family(g, 0).digest, 200, 210, b"s", &family(g, 1)).await.unwrap();
            s.insert_token(&access(g)).await.unwrap();
            r
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Rotation::Rotated);
    }
    let (tokens, rotations) = s.group_commits();
    let (rot, tok) = (rotations.requests - rotations_before.requests, tokens.requests - tokens_before.requests);
    let (rot_b, tok_b) = (rotations.batches - rotations_before.batches, tokens.batches - tokens_before.batches);
    assert_eq!((rot, tok), (u64::from(N), u64::from(N)));
    assert!(rot_b * 2 <= rot, "{rot} rotations in {rot_b} statements");
    assert!(tok_b * 2 <= tok, "{tok} token inserts in {tok_b} statements");
    for g in 0..N {
        let successor = s.get_refresh(&family(g, 1).digest).await.unwrap();
        assert_eq!(successor.map(|st| st.token), Some(family(g, 1)), "successor {g}");
        assert_eq!(s.get_token(&access(g).digest).await.unwrap(), Some(access(g)), "token {g}");
    }
}
