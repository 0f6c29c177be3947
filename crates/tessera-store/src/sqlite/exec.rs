//! The SQLite writer's job queue for writes other than token inserts and
//! revocations: each runs inside the writer's next batch transaction and
//! answers its caller once the commit's fate is known.

use std::future::Future;
use std::pin::Pin;

use sqlx::SqliteConnection;
use tessera_core::store::StoreError;
use tokio::sync::oneshot;

use super::{Finisher, Msg, SqliteStore, unavailable};

type WriteFuture<'c> = Pin<Box<dyn Future<Output = Finisher> + Send + 'c>>;
/// A write job: runs its statements, then returns how to answer its caller.
pub(super) type WriteFn = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> WriteFuture<'c> + Send>;

/// Runs one job inside the batch's transaction. No savepoint per job (two
/// more statements each, on the path every write waits for): each job orders
/// its statements so that stopping after any of them leaves nothing a
/// caller was promised (a failed job answers with an error, and whatever it
/// did write is unreachable or spent).
pub(super) async fn run_exec(conn: &mut SqliteConnection, f: WriteFn) -> Finisher {
    f(conn).await
}

type BoxFut<'c, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>;

impl SqliteStore {
    /// Runs `f` inside the writer's next batch; answers after the commit.
    pub(super) async fn exec<T: Send + 'static>(
        &self,
        f: impl for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFut<'c, T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel::<Result<T, StoreError>>();
        let job: WriteFn = Box::new(move |conn: &mut SqliteConnection| {
            Box::pin(async move {
                let r = f(&mut *conn).await;
                Box::new(move |committed: Result<(), StoreError>| {
                    let _ = tx.send(committed.and(r));
                }) as Finisher
            }) as WriteFuture<'_>
        });
        self.writer.send(Msg::Exec(job)).await.map_err(|_| unavailable("writer stopped"))?;
        rx.await.map_err(|_| unavailable("writer stopped"))?
    }
}
