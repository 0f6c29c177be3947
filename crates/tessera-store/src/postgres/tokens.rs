//! Group commit for opaque access tokens, the one write on the hottest path.
//!
//! One autocommitted `INSERT … SELECT FROM UNNEST(…)` per batch instead of
//! one transaction per token: a commit costs a WAL flush, and this turns a
//! flush per token into a flush per batch. Each caller is answered only
//! after the batch committed (a token is never handed out unstored).
//! Several writers take turns at the queue, so one batch commits while the
//! next gathers.

use std::sync::Arc;

use sqlx::PgPool;
use tessera_core::secret::TokenKey;
use tessera_core::store::{OpaqueToken, StoreError};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::map_err;
use crate::sql::json_list;

const MAX_BATCH: usize = 256;
const WRITERS: usize = 4;

pub(super) struct Job {
    pub token: OpaqueToken,
    pub done: oneshot::Sender<Result<(), StoreError>>,
}

pub(super) fn start(pool: PgPool) -> (mpsc::Sender<Job>, Vec<JoinHandle<()>>) {
    let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
    let rx = Arc::new(Mutex::new(rx));
    let tasks = (0..WRITERS).map(|_| tokio::spawn(writer(pool.clone(), rx.clone()))).collect();
    (tx, tasks)
}

/// Ends when the store (the only sender) is dropped.
async fn writer(pool: PgPool, rx: Arc<Mutex<mpsc::Receiver<Job>>>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    loop {
        {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            jobs.push(first);
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
        }
        match insert(&pool, jobs.iter().map(|j| &j.token)).await {
            Ok(()) => {
                for j in jobs.drain(..) {
                    let _ = j.done.send(Ok(()));
                }
            }
            // One duplicate digest must not fail its neighbours: retry one by one.
            Err(StoreError::Conflict) if jobs.len() > 1 => {
                for j in jobs.drain(..) {
                    let r = insert(&pool, std::iter::once(&j.token)).await;
                    let _ = j.done.send(r);
                }
            }
            Err(e) => {
                for j in jobs.drain(..) {
                    let _ = j.done.send(Err(e.clone()));
                }
            }
        }
    }
}

async fn insert<'a>(pool: &PgPool, tokens: impl Iterator<Item = &'a OpaqueToken>) -> Result<(), StoreError> {
    let (mut digest, mut jti, mut client, mut subject, mut scope, mut audience) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut issued, mut expires, mut auth_time, mut grant) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for t in tokens {
        digest.push(TokenKey { id: t.id, sha256: t.digest }.stored().0.to_vec());
        jti.push(t.jti.clone());
        client.push(t.client_id.clone());
        subject.push(t.subject.clone());
        scope.push(t.scope.clone());
        audience.push(json_list(&t.audience)?);
        issued.push(t.issued_at);
        expires.push(t.expires_at);
        auth_time.push(t.auth_time);
        grant.push(t.grant_id.clone());
    }
    sqlx::query(
        "INSERT INTO access_tokens (digest, jti, client_id, subject, scope, audience, issued_at, expires_at, \
         auth_time, grant_id) SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::int8[], $8::int8[], $9::int8[], $10::text[])",
    )
    .bind(digest)
    .bind(jti)
    .bind(client)
    .bind(subject)
    .bind(scope)
    .bind(audience)
    .bind(issued)
    .bind(expires)
    .bind(auth_time)
    .bind(grant)
    .execute(pool)
    .await
    .map_err(map_err)
    .map(|_| ())
}
