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
//!
//! A batch's parameters stay under [`MAX_BYTES`]: sqlx 0.9.0 leaves Nagle's
//! algorithm on, and a statement larger than the socket's first send
//! buffer goes out in two writes, the second held until PostgreSQL's
//! delayed ACK, 40 ms later (measured: batches of 15 rotations took 44 ms).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::PgPool;
use tessera_core::store::StoreError;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

const MAX_BATCH: usize = 256;
/// Below the 16 KiB a Linux TCP socket starts with (`tcp_wmem`).
const MAX_BYTES: usize = 12 * 1024;
const WRITERS: usize = 4;

type Answer<O> = oneshot::Sender<Result<O, StoreError>>;

/// One answer per item of a batch, in the items' order.
pub(super) type Answers<O> = Pin<Box<dyn Future<Output = Vec<Result<O, StoreError>>> + Send>>;

/// How a queue writes: the batch statement, and each item's size on the wire.
pub(super) struct Writes<I, O> {
    pub run: fn(PgPool, Vec<I>) -> Answers<O>,
    pub bytes: fn(&I) -> usize,
}

impl<I, O> Clone for Writes<I, O> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<I, O> Copy for Writes<I, O> {}

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

/// Waiting requests, and the one that did not fit the last batch (it
/// starts the next, whichever writer gathers it).
struct Inbox<I, O> {
    rx: mpsc::Receiver<(I, Answer<O>)>,
    held: Option<(I, Answer<O>)>,
}

/// The sending side of one group-commit queue.
pub(super) struct Queue<I, O> {
    tx: mpsc::Sender<(I, Answer<O>)>,
    writers: Vec<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl<I: Send + 'static, O: Send + 'static> Queue<I, O> {
    pub(super) fn start(pool: PgPool, writes: Writes<I, O>) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let inbox = Arc::new(Mutex::new(Inbox { rx, held: None }));
        let counters = Arc::new(Counters::default());
        let writers =
            (0..WRITERS).map(|_| tokio::spawn(writer(pool.clone(), inbox.clone(), writes, counters.clone()))).collect();
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

/// The next batch: what is waiting, up to [`MAX_BATCH`] items and
/// [`MAX_BYTES`] (but at least one item). `None` once the queue is dropped.
async fn gather<I, O>(inbox: &Mutex<Inbox<I, O>>, bytes: fn(&I) -> usize) -> Option<(Vec<I>, Vec<Answer<O>>)> {
    let mut inbox = inbox.lock().await;
    let first = match inbox.held.take() {
        Some(held) => held,
        None => inbox.rx.recv().await?,
    };
    let mut size = bytes(&first.0);
    let (mut items, mut answers) = (vec![first.0], vec![first.1]);
    while items.len() < MAX_BATCH {
        let Ok((item, done)) = inbox.rx.try_recv() else { break };
        size += bytes(&item);
        if size > MAX_BYTES {
            inbox.held = Some((item, done));
            break;
        }
        items.push(item);
        answers.push(done);
    }
    Some((items, answers))
}

/// Ends when the queue (the only sender) is dropped.
async fn writer<I, O>(pool: PgPool, inbox: Arc<Mutex<Inbox<I, O>>>, writes: Writes<I, O>, counters: Arc<Counters>) {
    while let Some((items, answers)) = gather(&inbox, writes.bytes).await {
        counters.requests.fetch_add(items.len() as u64, Ordering::Relaxed);
        counters.batches.fetch_add(1, Ordering::Relaxed);
        let mut results = (writes.run)(pool.clone(), items).await.into_iter();
        for done in answers {
            let r =
                results.next().unwrap_or_else(|| Err(StoreError::Unavailable("a write batch went unanswered".into())));
            let _ = done.send(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbox(sizes: &[usize]) -> Mutex<Inbox<usize, ()>> {
        let (tx, rx) = mpsc::channel(16);
        for &s in sizes {
            let (done, _) = oneshot::channel();
            tx.try_send((s, done)).unwrap_or_else(|_| unreachable!());
        }
        Mutex::new(Inbox { rx, held: None })
    }

    async fn next(inbox: &Mutex<Inbox<usize, ()>>) -> Vec<usize> {
        gather(inbox, |s| *s).await.map(|(items, _)| items).unwrap_or_default()
    }

    #[tokio::test]
    async fn a_batch_stays_under_the_byte_budget_and_loses_nothing() {
        let inbox = inbox(&[5000, 5000, 5000, 20_000, 100, 100]);
        assert_eq!(next(&inbox).await, [5000, 5000], "a third would pass {MAX_BYTES} bytes");
        assert_eq!(next(&inbox).await, [5000], "the held item starts the next batch");
        assert_eq!(next(&inbox).await, [20_000], "an item over the budget goes alone");
        assert_eq!(next(&inbox).await, [100, 100]);
    }
}
