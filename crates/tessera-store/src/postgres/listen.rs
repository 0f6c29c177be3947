//! Cross-process change signals over LISTEN/NOTIFY, so a node sees another
//! node's client, key and revocation changes without polling.
//!
//! - Client and key writes `pg_notify('tessera_config', <node id>)` in their
//!   transaction; revocations `pg_notify('tessera_revocations', <seq>)`.
//!   Notifications are delivered on commit, never for a rolled-back change.
//! - One task per store holds a [`PgListener`] on both channels: a config
//!   notification from another node moves the generation (a node's own
//!   writes move it right after their commit, so their echo is ignored: it
//!   would otherwise move the generation at an arbitrary later moment); a
//!   revocation notification bumps the revocation signal.
//! - Notifications sent while the listening connection is down are lost.
//!   So while it is down, [`Signals::config_generation`] returns a new value
//!   on every call (no cache is trusted) and the revocation signal is bumped
//!   on every reconnect attempt; once it is back both move once more.
//!   Reconnects back off from 250 ms to 5 s; a connection that stays quiet
//!   is checked every 10 s, so a silently dead one is noticed.
//! - A failed reconnect means the database itself is down: until a
//!   reconnect succeeds (tried every second), the store fails every request
//!   at once rather than letting each wait out the pool's acquire timeout.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::Executor;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tessera_core::store::{RevocationNotifier, RevocationSignal};

pub(super) const CONFIG_CHANNEL: &str = "tessera_config";
pub(super) const REVOCATION_CHANNEL: &str = "tessera_revocations";

const MIN_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const DOWN_BACKOFF: Duration = Duration::from_secs(1);
const LISTEN_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Quiet this long, the connection is checked with a query.
const IDLE_CHECK: Duration = Duration::from_secs(10);
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection that lasted this long was healthy: backoff starts over.
const STABLE: Duration = Duration::from_secs(30);

/// What the store and its listener task share.
pub(super) struct Signals {
    /// This store's payload on `tessera_config`, to recognise its own echo.
    node: String,
    generation: AtomicU64,
    listening: AtomicBool,
    /// The listener failed to reconnect: the database is down. Requests fail
    /// at once instead of each waiting out the pool's acquire timeout.
    unreachable: AtomicBool,
    revocations: RevocationNotifier,
}

impl Signals {
    pub(super) fn new() -> Self {
        // RandomState is seeded from the OS: distinct across processes and hosts.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
        h.write_u32(std::process::id());
        Self {
            node: format!("{:016x}-{}", h.finish(), std::process::id()),
            generation: AtomicU64::new(1),
            listening: AtomicBool::new(true),
            unreachable: AtomicBool::new(false),
            revocations: RevocationNotifier::default(),
        }
    }

    pub(super) fn node(&self) -> &str {
        &self.node
    }

    pub(super) fn unreachable(&self) -> bool {
        self.unreachable.load(Ordering::Acquire)
    }

    pub(super) fn listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// While not listening: a new value on every call.
    pub(super) fn config_generation(&self) -> u64 {
        if self.listening() {
            self.generation.load(Ordering::Acquire)
        } else {
            self.generation.fetch_add(1, Ordering::AcqRel) + 1
        }
    }

    pub(super) fn config_changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub(super) fn revocations_changed(&self) {
        self.revocations.notify();
    }

    pub(super) fn revocation_signal(&self) -> RevocationSignal {
        self.revocations.subscribe()
    }

    fn notified(&self, channel: &str, payload: &str) {
        match channel {
            CONFIG_CHANNEL if payload != self.node => self.config_changed(),
            REVOCATION_CHANNEL => self.revocations_changed(),
            _ => {}
        }
    }
}

/// A listener on both channels. Each gets a pool of its own (of one): a
/// dead connection still being torn down never delays the next.
pub(super) async fn subscribe(
    connect: &PgConnectOptions,
    acquire_timeout: Duration,
) -> Result<PgListener, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .max_lifetime(None)
        .idle_timeout(None)
        // Each failed attempt must end soon: it is how an outage is detected.
        .acquire_timeout(acquire_timeout.min(LISTEN_CONNECT_TIMEOUT))
        .connect_lazy_with(connect.clone().application_name("tessera-listener"));
    let mut listener = PgListener::connect_with(&pool).await?;
    // A lost connection is reported (Ok(None)), not silently replaced: run() must know.
    listener.eager_reconnect(false);
    listener.listen_all([CONFIG_CHANNEL, REVOCATION_CHANNEL]).await?;
    Ok(listener)
}

/// The listener task: follows notifications, reconnecting with backoff,
/// until the store aborts it.
pub(super) async fn run(
    mut listener: PgListener,
    connect: PgConnectOptions,
    acquire_timeout: Duration,
    signals: Arc<Signals>,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let since = Instant::now();
        let why = follow(&mut listener, &signals).await;
        signals.listening.store(false, Ordering::Release);
        drop(listener);
        tracing::warn!(error = %why, "lost the PostgreSQL LISTEN connection; caches are bypassed until it is back");
        if since.elapsed() >= STABLE {
            backoff = MIN_BACKOFF;
        }
        listener = loop {
            tokio::time::sleep(backoff).await;
            // While the database is known to be down, retry every second at
            // most: that is how soon requests are served again once it is back.
            let cap = if signals.unreachable() { DOWN_BACKOFF } else { MAX_BACKOFF };
            backoff = (backoff * 2).min(cap);
            // No revocation notification can arrive now: let waiters re-read.
            signals.revocations_changed();
            match subscribe(&connect, acquire_timeout).await {
                Ok(l) => break l,
                Err(e) => {
                    if !signals.unreachable.swap(true, Ordering::AcqRel) {
                        tracing::warn!(error = %e, "PostgreSQL is unreachable; answering 503 until it is back");
                    }
                }
            }
        };
        // Whatever was sent while it was down is lost: assume everything changed.
        signals.unreachable.store(false, Ordering::Release);
        signals.listening.store(true, Ordering::Release);
        signals.config_changed();
        signals.revocations_changed();
        tracing::info!("PostgreSQL LISTEN connection restored");
    }
}

/// Handles notifications until the connection fails; returns why.
async fn follow(listener: &mut PgListener, signals: &Signals) -> String {
    loop {
        // `try_recv` is cancel-safe: a timeout loses no notification.
        match tokio::time::timeout(IDLE_CHECK, listener.try_recv()).await {
            Ok(Ok(Some(n))) => signals.notified(n.channel(), n.payload()),
            Ok(Ok(None)) => return "connection closed".into(),
            Ok(Err(e)) => return e.to_string(),
            Err(_) => match tokio::time::timeout(CHECK_TIMEOUT, (&mut *listener).execute("SELECT 1")).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return e.to_string(),
                Err(_) => return "no answer to a health check".into(),
            },
        }
    }
}
