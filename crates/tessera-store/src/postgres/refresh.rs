//! PostgreSQL implementation of [`RefreshStore`]. A rotation is a
//! conditional `UPDATE … RETURNING` of the old token and the successor's
//! insert from its result, in one statement, so of concurrent rotations on
//! any number of nodes exactly one finds the token unrotated, and a
//! successor is stored exactly when its rotation happened.
//!
//! Rotations are group-committed (`batch.rs`): a batch is the same
//! statement over arrays (`UNNEST`), each row with its own conditions, so
//! it rotates exactly the tokens that one statement each would have, with
//! one commit. Two rotations of one token never share a batch (the second
//! runs after the first committed), and a batch that fails as a whole (a
//! deadlock between two nodes' batches, a conflict) is retried one by one.

use std::collections::HashSet;

use async_trait::async_trait;
use sqlx::PgPool;
use tessera_core::secret::Digest;
use tessera_core::store::{RefreshState, RefreshStore, RefreshToken, Rotation, StoreError};

use super::batch::{Answers, Queue, Writes};
use super::{PgStore, map_err};
use crate::sql::json_list;
use crate::sql::refresh::{bind_token, get_refresh};
use crate::sql::rows::refresh_cols;

/// One rotation's arguments, as [`RefreshStore::rotate_refresh`] takes them.
pub(super) struct RotateJob {
    old: Digest,
    now: i64,
    grace_until: i64,
    sealed: Vec<u8>,
    successor: RefreshToken,
}

pub(super) fn start(pool: PgPool) -> Queue<RotateJob, Rotation> {
    Queue::start(pool, Writes { run, bytes })
}

/// Roughly what a rotation adds to a batch's parameters.
fn bytes(j: &RotateJob) -> usize {
    let s = &j.successor;
    let text = s.grant_id.len()
        + s.client_id.as_str().len()
        + s.user_id.as_str().len()
        + s.scope.iter().map(|x| x.len() + 1).sum::<usize>();
    let audience: usize = s.audience.iter().map(|a| a.len() + 3).sum();
    let jkt = s.jkt.as_ref().map_or(0, String::len);
    // Two 32-byte keys, six integers, and a length word per array element.
    2 * 32 + 6 * 8 + 15 * 4 + j.sealed.len() + text + audience + jkt
}

#[async_trait]
impl RefreshStore for PgStore {
    async fn insert_refresh(&self, t: &RefreshToken) -> Result<bool, StoreError> {
        // The grant's row is share-locked until this commits: a revocation
        // deleting it waits, then deletes this token too (it deletes the
        // grant first and the tokens in a later statement); a grant already
        // deleted locks nothing and nothing is inserted.
        let q = sqlx::query::<sqlx::Postgres>(concat!(
            "WITH g AS (SELECT id FROM grants WHERE id = $2 FOR KEY SHARE) INSERT INTO refresh_tokens (",
            refresh_cols!(),
            ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM g"
        ));
        let done = bind_token(q, t)?.execute(self.pool()?).await.map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn get_refresh(&self, digest: &Digest) -> Result<Option<RefreshState>, StoreError> {
        get_refresh(self.pool()?, digest).await
    }

    async fn rotate_refresh(
        &self,
        old: &Digest,
        now: i64,
        grace_until: i64,
        sealed: &[u8],
        successor: &RefreshToken,
    ) -> Result<Rotation, StoreError> {
        self.pool()?;
        let job = RotateJob { old: *old, now, grace_until, sealed: sealed.to_vec(), successor: successor.clone() };
        self.rotations.submit(job).await
    }
}

fn run(pool: PgPool, jobs: Vec<RotateJob>) -> Answers<Rotation> {
    Box::pin(async move {
        // The first rotation of each token goes in the batch; any other of
        // the same token waits for the batch (and then finds it rotated).
        let mut seen = HashSet::with_capacity(jobs.len());
        let (batch, later): (Vec<usize>, Vec<usize>) = (0..jobs.len()).partition(|&i| seen.insert(jobs[i].old));
        let mut out: Vec<Option<Result<Rotation, StoreError>>> = jobs.iter().map(|_| None).collect();
        let batched = if batch.len() > 1 { rotate_many(&pool, &jobs, &batch).await } else { Err(StoreError::Conflict) };
        match batched {
            Ok(rotated) => {
                for &i in &batch {
                    out[i] = Some(if rotated.contains(&jobs[i].successor.digest) {
                        Ok(Rotation::Rotated)
                    } else {
                        not_rotated(&pool, &jobs[i].old).await
                    });
                }
            }
            Err(_) => {
                for &i in &batch {
                    out[i] = Some(rotate_one(&pool, &jobs[i]).await);
                }
            }
        }
        for i in later {
            out[i] = Some(rotate_one(&pool, &jobs[i]).await);
        }
        out.into_iter().map(|r| r.unwrap_or(Err(StoreError::Conflict))).collect()
    })
}

/// One rotation, one statement.
async fn rotate_one(pool: &PgPool, j: &RotateJob) -> Result<Rotation, StoreError> {
    // A concurrent rotation waits on the UPDATE's row lock, then finds
    // `rotated_at` set and inserts nothing. A revoked family has no rows
    // left; its end is on every row. The grant is share-locked (before
    // the token's row: the lock order of a revocation) so a revocation
    // racing this one deletes the successor too, as in `insert_refresh`.
    let q = sqlx::query::<sqlx::Postgres>(concat!(
        "WITH g AS (SELECT id FROM grants WHERE id = $6 FOR KEY SHARE), \
         r AS (UPDATE refresh_tokens SET rotated_at = $1, grace_until = $2, successor = $3 \
         WHERE digest = $4 AND rotated_at IS NULL AND expires_at > $1 AND family_expires_at > $1 \
         AND EXISTS (SELECT 1 FROM g) RETURNING digest) \
         INSERT INTO refresh_tokens (",
        refresh_cols!(),
        ") SELECT $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 FROM r"
    ))
    .bind(j.now)
    .bind(j.grace_until)
    .bind(&j.sealed[..])
    .bind(&j.old.0[..]);
    let done = bind_token(q, &j.successor)?.execute(pool).await.map_err(map_err)?;
    if done.rows_affected() == 1 {
        return Ok(Rotation::Rotated);
    }
    not_rotated(pool, &j.old).await
}

/// Why a rotation rotated nothing: another did first, or the token is gone.
async fn not_rotated(pool: &PgPool, old: &Digest) -> Result<Rotation, StoreError> {
    match get_refresh(pool, old).await? {
        Some(state) if state.rotated_at.is_some() => Ok(Rotation::AlreadyRotated(Box::new(state))),
        _ => Ok(Rotation::Gone),
    }
}

/// `rotate_one` over arrays: the jobs at `batch` (distinct old tokens) in
/// one statement; the digests of the successors stored.
async fn rotate_many(pool: &PgPool, jobs: &[RotateJob], batch: &[usize]) -> Result<HashSet<Digest>, StoreError> {
    let n = batch.len();
    let (mut old, mut now, mut grace, mut sealed) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut digest, mut grant, mut client, mut user, mut scope, mut audience) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut auth_time, mut issued, mut expires, mut family, mut jkt) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for &i in batch {
        let j = &jobs[i];
        let s = &j.successor;
        old.push(j.old.0.to_vec());
        now.push(j.now);
        grace.push(j.grace_until);
        sealed.push(j.sealed.clone());
        digest.push(s.digest.0.to_vec());
        grant.push(s.grant_id.clone());
        client.push(s.client_id.to_string());
        user.push(s.user_id.to_string());
        scope.push(s.scope.to_string());
        audience.push(json_list(&s.audience)?);
        auth_time.push(s.auth_time);
        issued.push(s.issued_at);
        expires.push(s.expires_at);
        family.push(s.family_expires_at);
        jkt.push(s.jkt.clone());
    }
    // As `rotate_one`, row by row: each job's own token, time and grant.
    // The `= ANY` filters keep both lookups on their primary keys whatever
    // the planner guesses of `UNNEST`'s size (a join alone scans the table).
    let stored: Vec<Vec<u8>> = sqlx::query_scalar(concat!(
        "WITH j AS (SELECT * FROM UNNEST($1::bytea[], $2::int8[], $3::int8[], $4::bytea[], $5::bytea[], \
         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::int8[], $12::int8[], $13::int8[], \
         $14::int8[], $15::text[]) AS j(old, now, grace_until, sealed, ",
        refresh_cols!(),
        ")), \
         g AS (SELECT id FROM grants WHERE id = ANY($6) FOR KEY SHARE), \
         r AS (UPDATE refresh_tokens t SET rotated_at = j.now, grace_until = j.grace_until, successor = j.sealed \
         FROM j WHERE t.digest = ANY($1) AND t.digest = j.old AND t.rotated_at IS NULL AND t.expires_at > j.now \
         AND t.family_expires_at > j.now AND j.grant_id IN (SELECT id FROM g) RETURNING j.old) \
         INSERT INTO refresh_tokens (",
        refresh_cols!(),
        ") SELECT j.digest, j.grant_id, j.client_id, j.user_id, j.scope, j.audience, j.auth_time, \
         j.issued_at, j.expires_at, j.family_expires_at, j.jkt FROM j JOIN r ON r.old = j.old RETURNING digest"
    ))
    .bind(old)
    .bind(now)
    .bind(grace)
    .bind(sealed)
    .bind(digest)
    .bind(grant)
    .bind(client)
    .bind(user)
    .bind(scope)
    .bind(audience)
    .bind(auth_time)
    .bind(issued)
    .bind(expires)
    .bind(family)
    .bind(jkt)
    .fetch_all(pool)
    .await
    .map_err(map_err)?;
    stored.iter().map(|d| Digest::from_slice(d).ok_or_else(|| crate::sql::corrupt("successor digest"))).collect()
}
