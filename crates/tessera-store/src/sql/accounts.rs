//! Users, browser sessions, remembered consent and grants.

use sqlx::Executor;
use tessera_core::ids::{ClientId, UserId};
use tessera_core::secret::Digest;
use tessera_core::store::{Consent, Grant, GrantFilter, Session, StoreError, User};

use super::rows::{self, grant_cols, session_cols, user_cols};
use super::{Bind, Dialect, SqlRow, affected, map_err, query};

pub(crate) async fn insert_user<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    u: &User,
) -> Result<(), StoreError> {
    let q = query::<DB>(concat!("INSERT INTO users (", user_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
        .arg(u.id.as_str())
        .arg(&u.username)
        .arg(&u.email)
        .arg(&u.name)
        .arg(&u.password_hash)
        .arg(u.disabled)
        .arg(u.created_at)
        .arg(u.updated_at);
    affected(q, e).await.map(|_| ())
}

/// One user by a unique column: [`USER_BY_ID`] or [`USER_BY_NAME`].
pub(crate) async fn get_user<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    sql: &'static str,
    key: &str,
) -> Result<Option<User>, StoreError> {
    let row = query::<DB>(sql).arg(key).fetch_optional(e).await.map_err(map_err)?;
    row.as_ref().map(rows::user).transpose()
}

pub(crate) const USER_BY_ID: &str = concat!("SELECT ", user_cols!(), " FROM users WHERE id = $1");
pub(crate) const USER_BY_NAME: &str = concat!("SELECT ", user_cols!(), " FROM users WHERE username = $1");

pub(crate) async fn list_users<'c, DB: Dialect>(e: impl Executor<'c, Database = DB>) -> Result<Vec<User>, StoreError> {
    let q = query::<DB>(concat!("SELECT ", user_cols!(), " FROM users ORDER BY username"));
    q.fetch_all(e).await.map_err(map_err)?.iter().map(rows::user).collect()
}

pub(crate) async fn update_user<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    u: &User,
) -> Result<bool, StoreError> {
    let q = query::<DB>(
        "UPDATE users SET email = $1, name = $2, password_hash = $3, disabled = $4, updated_at = $5 WHERE id = $6",
    )
    .arg(&u.email)
    .arg(&u.name)
    .arg(&u.password_hash)
    .arg(u.disabled)
    .arg(u.updated_at)
    .arg(u.id.as_str());
    Ok(affected(q, e).await? == 1)
}

/// The user with their sessions, refresh tokens, consents and codes, in
/// one transaction.
pub(crate) async fn delete_user<DB: Dialect>(pool: &sqlx::Pool<DB>, id: &UserId) -> Result<bool, StoreError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let mut tx = pool.begin().await.map_err(map_err)?;
    for sql in [
        "DELETE FROM sessions WHERE user_id = $1",
        "DELETE FROM refresh_tokens WHERE user_id = $1",
        "DELETE FROM consents WHERE user_id = $1",
        "DELETE FROM auth_codes WHERE user_id = $1",
    ] {
        affected(query::<DB>(sql).arg(id.as_str()), &mut *tx).await?;
    }
    let found = affected(query::<DB>("DELETE FROM users WHERE id = $1").arg(id.as_str()), &mut *tx).await? == 1;
    tx.commit().await.map_err(map_err)?;
    Ok(found)
}

pub(crate) async fn insert_session<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    s: &Session,
) -> Result<(), StoreError> {
    let q = query::<DB>(concat!("INSERT INTO sessions (", session_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)"))
        .arg(&s.digest.0[..])
        .arg(&s.id)
        .arg(s.user_id.as_str())
        .arg(s.auth_time)
        .arg(s.amr.to_string())
        .arg(s.created_at)
        .arg(s.expires_at);
    affected(q, e).await.map(|_| ())
}

pub(crate) async fn get_session<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    digest: &Digest,
) -> Result<Option<Session>, StoreError> {
    let q = query::<DB>(concat!("SELECT ", session_cols!(), " FROM sessions WHERE digest = $1")).arg(&digest.0[..]);
    q.fetch_optional(e).await.map_err(map_err)?.as_ref().map(rows::session).transpose()
}

pub(crate) async fn delete_session<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    digest: &Digest,
) -> Result<bool, StoreError> {
    Ok(affected(query::<DB>("DELETE FROM sessions WHERE digest = $1").arg(&digest.0[..]), e).await? == 1)
}

pub(crate) async fn list_sessions<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    user_id: &UserId,
) -> Result<Vec<Session>, StoreError> {
    let q = query::<DB>(concat!("SELECT ", session_cols!(), " FROM sessions WHERE user_id = $1 ORDER BY created_at"))
        .arg(user_id.as_str());
    q.fetch_all(e).await.map_err(map_err)?.iter().map(rows::session).collect()
}

pub(crate) async fn delete_user_sessions<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    user_id: &UserId,
) -> Result<u64, StoreError> {
    affected(query::<DB>("DELETE FROM sessions WHERE user_id = $1").arg(user_id.as_str()), e).await
}

pub(crate) async fn put_consent<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    c: &Consent,
) -> Result<(), StoreError> {
    let q = query::<DB>(
        "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
    )
    .arg(c.user_id.as_str())
    .arg(c.client_id.as_str())
    .arg(c.scope.to_string())
    .arg(c.granted_at);
    affected(q, e).await.map(|_| ())
}

pub(crate) async fn get_consent<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    user_id: &UserId,
    client_id: &ClientId,
) -> Result<Option<Consent>, StoreError> {
    let q = query::<DB>("SELECT scope, granted_at FROM consents WHERE user_id = $1 AND client_id = $2")
        .arg(user_id.as_str())
        .arg(client_id.as_str());
    let row = q.fetch_optional(e).await.map_err(map_err)?;
    row.map(|r| {
        Ok(Consent {
            user_id: user_id.clone(),
            client_id: client_id.clone(),
            scope: r.scope("scope")?,
            granted_at: r.col("granted_at")?,
        })
    })
    .transpose()
}

/// Stores a grant; `session_id` is `None` for a device grant.
pub(crate) async fn insert_grant<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    g: &Grant,
) -> Result<(), StoreError> {
    let q = query::<DB>(concat!("INSERT INTO grants (", grant_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)"))
        .arg(&g.id)
        .arg(g.user_id.as_str())
        .arg(g.client_id.as_str())
        .arg(g.scope.to_string())
        .arg(&g.session_id)
        .arg(g.created_at)
        .arg(g.expires_at);
    affected(q, e).await.map(|_| ())
}

pub(crate) async fn get_grant<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    id: &str,
) -> Result<Option<Grant>, StoreError> {
    let q = query::<DB>(concat!("SELECT ", grant_cols!(), " FROM grants WHERE id = $1")).arg(id);
    q.fetch_optional(e).await.map_err(map_err)?.as_ref().map(rows::grant).transpose()
}

pub(crate) async fn list_grants<'c, DB: Dialect>(
    e: impl Executor<'c, Database = DB>,
    f: &GrantFilter,
) -> Result<Vec<Grant>, StoreError> {
    // CAST: PostgreSQL must know a parameter's type even when it is NULL.
    let q = query::<DB>(concat!(
        "SELECT ",
        grant_cols!(),
        " FROM grants WHERE (CAST($1 AS TEXT) IS NULL OR user_id = $1) AND (CAST($2 AS TEXT) IS NULL OR client_id = $2) \
         ORDER BY created_at, id"
    ))
    .arg(f.user_id.clone().map(String::from))
    .arg(f.client_id.clone().map(String::from));
    q.fetch_all(e).await.map_err(map_err)?.iter().map(rows::grant).collect()
}
