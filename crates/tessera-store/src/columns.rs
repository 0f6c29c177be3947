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
