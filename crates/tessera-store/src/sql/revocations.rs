//! Opaque-token reads and the revocation feed: what a revocation deletes
//! and how the feed is read. Numbering and committing revocations (SQLite's
//! group commit, PostgreSQL's counter and NOTIFY) are each backend's own.

use sqlx::Executor;
use sqlx::query::Query;
use tessera_core::secret::TokenKey;
use tessera_core::store::{OpaqueToken, Revocation, RevocationEntry, RevokedToken, StoreError};

use super::{Bind, Dialect, SqlRow, affected, map_err, query, rows};

/// An opaque token by its key: the rows sharing its lookup id, unless its
/// SHA-256 was revoked (a token with an id keeps its row until it expires:
/// its revocation names it by SHA-256 only), the whole key compared in
/// constant time.
pub(crate) async fn find_token<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    key: &TokenKey,
) -> Result<Option<OpaqueToken>, StoreError> {
    let want = key.stored();
    let (lo, hi) = want.id_range();
    let q = query::<DB>(
        "SELECT digest, jti, client_id, subject, scope, audience, issued_at, expires_at, auth_time, grant_id, jkt \
         FROM access_tokens WHERE digest BETWEEN $1 AND $2 AND NOT EXISTS \
         (SELECT 1 FROM revocations WHERE kind = 'opaque' AND token_key = $3)",
    )
    .arg(&lo.0[..])
    .arg(&hi.0[..])
    .arg(key.sha256.to_hex());
    let found = q.fetch_all(e).await.map_err(map_err)?;
    let keyed = found.iter().map(|r| Ok((r.digest("digest")?, r))).collect::<Result<Vec<_>, StoreError>>()?;
    super::with_key(keyed, |(d, _)| *d, &want).map(|(_, r)| rows::token(r, key)).transpose()
}

/// Deletes what `token` names, inside the revoking transaction. A grant's
/// row goes first: on PostgreSQL its delete waits for every refresh-token
/// write holding the grant's row (`FOR KEY SHARE`) to commit, and the later
/// statements' snapshots then see those tokens.
pub(crate) async fn delete_revoked<DB: Dialect, C>(conn: &mut C, token: &RevokedToken) -> Result<(), StoreError>
where
    for<'c> &'c mut C: Executor<'c, Database = DB>,
{
    match token {
        RevokedToken::Jti(_) | RevokedToken::Client(_) => {}
        RevokedToken::Key(k) => {
            affected(query::<DB>("DELETE FROM signing_keys WHERE kid = $1").arg(k), &mut *conn).await?;
        }
        RevokedToken::Grant(g) => {
            for sql in [
                "DELETE FROM grants WHERE id = $1",
                "DELETE FROM access_tokens WHERE grant_id = $1",
                "DELETE FROM refresh_tokens WHERE grant_id = $1",
            ] {
                affected(query::<DB>(sql).arg(g), &mut *conn).await?;
            }
        }
        RevokedToken::Opaque(d) => {
            affected(query::<DB>("DELETE FROM access_tokens WHERE digest = $1").arg(&d.0[..]), &mut *conn).await?;
        }
    }
    Ok(())
}

/// Entries with `seq > after`, oldest first, at most `limit`.
pub(crate) async fn revocations_after<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    after: i64,
    limit: u32,
) -> Result<Vec<RevocationEntry>, StoreError> {
    let q = query::<DB>(
        "SELECT seq, kind, token_key, client_id, expires_at, revoked_at FROM revocations \
         WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .arg(after)
    .arg(i64::from(limit));
    q.fetch_all(e).await.map_err(map_err)?.iter().map(rows::revocation).collect()
}

/// Binds a feed entry's columns as `$1`…`$5`: kind, key, client, expiry, time.
pub(crate) fn bind_entry<'q, DB: Dialect>(
    q: Query<'q, DB, DB::Arguments>,
    r: &Revocation,
) -> Query<'q, DB, DB::Arguments> {
    let (kind, key) = rows::revoked_key(&r.token);
    q.arg(kind).arg(key).arg(&r.client_id).arg(r.expires_at).arg(r.revoked_at)
}

/// Enters a revocation in the feed on SQLite (the number comes from `AUTOINCREMENT`).
pub(crate) const INSERT_REVOCATION: &str =
    "INSERT INTO revocations (kind, token_key, client_id, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5)";
