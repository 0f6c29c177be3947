//! Refresh tokens: the columns a token is stored with and the read of its
//! state. Storing and rotating (single-use steps bound to the grant's
//! existence) are each backend's own.

use sqlx::Executor;
use sqlx::query::Query;
use tessera_core::secret::Digest;
use tessera_core::store::{RefreshState, RefreshToken, StoreError};

use super::rows::{self, refresh_state_select};
use super::{Bind, Dialect, json_list, map_err, query};

/// Binds `t`'s eleven columns, in `refresh_cols!` order, after what `q` already has.
pub(crate) fn bind_token<'q, DB: Dialect>(
    q: Query<'q, DB, DB::Arguments>,
    t: &RefreshToken,
) -> Result<Query<'q, DB, DB::Arguments>, StoreError> {
    Ok(q.arg(&t.digest.0[..])
        .arg(&t.grant_id)
        .arg(t.client_id.as_str())
        .arg(t.user_id.as_str())
        .arg(t.scope.to_string())
        .arg(json_list(&t.audience)?)
        .arg(t.auth_time)
        .arg(t.issued_at)
        .arg(t.expires_at)
        .arg(t.family_expires_at)
        .arg(&t.jkt))
}

/// A token with what became of it and its user's standing, in one read:
/// the rows sharing the key's lookup id, then the whole key compared in
/// constant time (`digest` is the stored key, [`Digest::id_range`]).
pub(crate) async fn get_refresh<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    digest: &Digest,
) -> Result<Option<RefreshState>, StoreError> {
    let (lo, hi) = digest.id_range();
    let q = query::<DB>(refresh_state_select!()).arg(&lo.0[..]).arg(&hi.0[..]);
    let states =
        q.fetch_all(e).await.map_err(map_err)?.iter().map(rows::refresh_state).collect::<Result<Vec<_>, _>>()?;
    Ok(super::with_key(states, |s| s.token.digest, digest))
}
