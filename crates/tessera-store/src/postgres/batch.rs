//! Group commit: the writes on the hottest paths (opaque-token inserts,
//! refresh rotations) are gathered into one autocommitted statement per
//! batch instead of one per request. A commit costs a WAL flush and a
//! round trip; this turns a flush per request into a flush per batch,
//! without weakening anything: each caller is answered only after its
//! batch committed (a token is never handed out unstored), and a batch is
//! one statement, so it commits whole or not at all.
//!
//! Several writers take turns at one queue, so one batch commits while the
//! next gathers; under light load a batch is a single request and costs
//! what a direct statement would.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::PgPool;
use tessera_core::store::StoreError;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

const MAX_BATCH: usize = 256;
const WRITERS: usize = 4;

type Answer<O> = oneshot::Sender<Result<O, StoreError>>;

/// One answer per item of a batch, in the items' order.
pub(super) type Answers<O> = Pin<Box<dyn Future<Output = Vec<Result<O, StoreError>>> + Send>>;

/// Runs one batch.
pub(super) type RunBatch<I, O> = fn(PgPool, Vec<I>) -> Answers<O>;

type Receiver<I, O> = Arc<Mutex<mpsc::Receiver<(I, Answer<O>)>>>;

/// How many requests a queue took and in how many batches it ran them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommits {
    pub requests: u64,
    pub batches: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    batches: AtomicU64,
}

/// The sending side of one group-commit queue.
pub(super) struct Queue<I, O> {
    tx: mpsc::Sender<(I, Answer<O>)>,
    writers: Vec<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl<I: Send + 'static, O: Send + 'static> Queue<I, O> {
    pub(super) fn start(pool: PgPool, run: RunBatch<I, O>) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let rx = Arc::new(Mutex::new(rx));
        let counters = Arc::new(Counters::default());
        let writers =
            (0..WRITERS).map(|_| tokio::spawn(writer(pool.clone(), rx.clone(), run, counters.clone()))).collect();
        Self { tx, writers, counters }
    }

    pub(super) fn stats(&self) -> GroupCommits {
        GroupCommits {
            requests: self.counters.requests.load(Ordering::Relaxed),
            batches: self.counters.batches.load(Ordering::Relaxed),
        }
    }

    /// Queues `item` and waits until its batch committed (or failed).
    pub(super) async fn submit(&self, item: I) -> Result<O, StoreError> {
        let (done, answer) = oneshot::channel();
        self.tx.send((item, done)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl<I, O> Drop for Queue<I, O> {
    fn drop(&mut self) {
        for w in &self.writers {
            w.abort();
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the store is shutting down".into())
}

/// Ends when the queue (the only sender) is dropped.
async fn writer<I, O>(pool: PgPool, rx: Receiver<I, O>, run: RunBatch<I, O>, counters: Arc<Counters>) {
    loop {
        let mut items = Vec::new();
        let mut answers = Vec::new();
        {
            let mut rx = rx.lock().await;
            let Some((first, done)) = rx.recv().await else { return };
            items.push(first);
            answers.push(done);
            while items.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok((i, done)) => {
                        items.push(i);
                        answers.push(done);
                    }
                    Err(_) => break,
                }
            }
        }
        counters.requests.fetch_add(items.len() as u64, Ordering::Relaxed);
        counters.batches.fetch_add(1, Ordering::Relaxed);
        let mut results = run(pool.clone(), items).await.into_iter();
        for done in answers {
            let r =
                results.next().unwrap_or_else(|| Err(StoreError::Unavailable("a write batch went unanswered".into())));
            let _ = done.send(r);
        }
    }
}
