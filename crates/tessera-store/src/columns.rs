//! What both SQL backends must agree on: the column lists their row readers
//! expect, and how long spent codes are remembered. Macros, not consts:
//! sqlx only takes SQL fixed at compile time (`concat!`).

/// Consumed codes are kept a day past expiry so a late replay is still
/// recognised (and revokes what the code yielded).
pub(crate) const CODE_REPLAY_MEMORY: i64 = 24 * 60 * 60;

/// Records a deployment setting, replacing an earlier value (same SQL on both).
pub(crate) const SETTING_UPSERT: &str =
    "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value";

macro_rules! client_columns {
    () => {
        "client_id, name, secret_digest, settings, created_at, updated_at"
    };
}
macro_rules! user_cols {
    () => {
        "id, username, email, name, password_hash, disabled, created_at, updated_at"
    };
}
macro_rules! session_cols {
    () => {
        "digest, id, user_id, auth_time, amr, created_at, expires_at"
    };
}
macro_rules! code_cols {
    () => {
        "digest, client_id, user_id, grant_id, redirect_uri, code_challenge, scope, audience, nonce, auth_time, amr, \
         session_id, created_at, expires_at"
    };
}
macro_rules! grant_cols {
    () => {
        "id, user_id, client_id, scope, session_id, created_at, expires_at"
    };
}
// `interval` is a keyword in PostgreSQL: quoted, which SQLite reads the same.
macro_rules! device_cols {
    () => {
        "device_digest, user_digest, client_id, scope, audience, grant_id, created_at, expires_at, \"interval\", \
         last_poll_at, status, user_id, auth_time, amr"
    };
}
macro_rules! refresh_cols {
    () => {
        "digest, grant_id, client_id, user_id, scope, audience, auth_time, issued_at, expires_at, family_expires_at"
    };
}
// An opaque token's lookup: the rows sharing its id ($1..$2, see
// `Digest::id_range`), unless its SHA-256 ($3, hex) was revoked.
macro_rules! token_lookup {
    () => {
        "SELECT digest, jti, client_id, subject, scope, audience, issued_at, expires_at, auth_time, grant_id \
         FROM access_tokens WHERE digest BETWEEN $1 AND $2 AND NOT EXISTS \
         (SELECT 1 FROM revocations WHERE kind = 'opaque' AND token_key = $3)"
    };
}

/// The query behind [`token_lookup!`] with its arguments bound, on either backend.
pub(crate) fn token_lookup<'q, DB: sqlx::Database>(
    key: &tessera_core::secret::TokenKey,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    for<'t> Vec<u8>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    let (lo, hi) = key.stored().id_range();
    sqlx::query(token_lookup!()).bind(lo.0.to_vec()).bind(hi.0.to_vec()).bind(key.sha256.to_hex())
}

/// Of the rows sharing a key's id, the one whose whole key is `want`,
/// compared in constant time (`Digest::id_range`).
pub(crate) fn with_key<T>(
    rows: Vec<T>,
    key: impl Fn(&T) -> tessera_core::secret::Digest,
    want: &tessera_core::secret::Digest,
) -> Option<T> {
    rows.into_iter().find(|r| key(r).ct_eq(want))
}
