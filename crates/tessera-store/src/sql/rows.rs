//! Row mappers, one per record, for either database. The column lists the
//! statements select live beside them, so a reader and its `SELECT` cannot
//! drift apart. Macros, not consts: SQL is assembled with `concat!`, and
//! sqlx only takes statements fixed at compile time.

use tessera_core::client::{Client, ClientKind, ClientSettings};
use tessera_core::secret::{Digest, TokenKey};
use tessera_core::store::{
    AuthCode, DeviceApproval, DeviceCode, DeviceStatus, Grant, OpaqueToken, RefreshState, RefreshToken, Revocation,
    RevocationEntry, RevokedToken, ScopeInfo, Session, StoreError, StoredKey, User,
};

use super::{SqlRow, corrupt, corrupt_by};

macro_rules! client_cols {
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
         session_id, created_at, expires_at, dpop_jkt"
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
        "digest, grant_id, client_id, user_id, scope, audience, auth_time, issued_at, expires_at, family_expires_at, jkt"
    };
}
/// A refresh token's columns with its state and its user's standing.
macro_rules! refresh_state_select {
    () => {
        concat!(
            "SELECT ",
            $crate::sql::rows::refresh_cols!(),
            ", rotated_at, grace_until, successor, COALESCE((SELECT NOT disabled FROM users \
             WHERE users.id = refresh_tokens.user_id), FALSE) AS user_active FROM refresh_tokens \
             WHERE digest BETWEEN $1 AND $2"
        )
    };
}
pub(crate) use {
    client_cols, code_cols, device_cols, grant_cols, refresh_cols, refresh_state_select, session_cols, user_cols,
};

pub(crate) fn client(r: &impl SqlRow) -> Result<Client, StoreError> {
    let settings: String = r.col("settings")?;
    let settings: ClientSettings = serde_json::from_str(&settings).map_err(|e| corrupt_by("column settings", e))?;
    let digest: Option<Vec<u8>> = r.col("secret_digest")?;
    let kind = match digest {
        Some(d) => ClientKind::Confidential {
            secret_digest: Digest::from_slice(&d).ok_or_else(|| corrupt("secret digest length"))?,
        },
        None => ClientKind::Public,
    };
    Ok(Client {
        id: r.id("client_id")?,
        name: r.col("name")?,
        kind,
        settings,
        created_at: r.col("created_at")?,
        updated_at: r.col("updated_at")?,
    })
}

pub(crate) fn key(r: &impl SqlRow) -> Result<StoredKey, StoreError> {
    Ok(StoredKey {
        kid: r.col("kid")?,
        alg: r.col("alg")?,
        sealed_private_key: r.col("sealed_private_key")?,
        created_at: r.col("created_at")?,
        activates_at: r.col("activates_at")?,
    })
}

pub(crate) fn scope(r: &impl SqlRow) -> Result<ScopeInfo, StoreError> {
    Ok(ScopeInfo { name: r.col("name")?, description: r.col("description")?, created_at: r.col("created_at")? })
}

pub(crate) fn user(r: &impl SqlRow) -> Result<User, StoreError> {
    Ok(User {
        id: r.id("id")?,
        username: r.col("username")?,
        email: r.col("email")?,
        name: r.col("name")?,
        password_hash: r.col("password_hash")?,
        disabled: r.col("disabled")?,
        created_at: r.col("created_at")?,
        updated_at: r.col("updated_at")?,
    })
}

pub(crate) fn session(r: &impl SqlRow) -> Result<Session, StoreError> {
    Ok(Session {
        id: r.col("id")?,
        digest: r.digest("digest")?,
        user_id: r.id("user_id")?,
        auth_time: r.col("auth_time")?,
        amr: r.amr("amr")?,
        created_at: r.col("created_at")?,
        expires_at: r.col("expires_at")?,
    })
}

pub(crate) fn code(r: &impl SqlRow) -> Result<AuthCode, StoreError> {
    Ok(AuthCode {
        digest: r.digest("digest")?,
        client_id: r.id("client_id")?,
        user_id: r.id("user_id")?,
        grant_id: r.col("grant_id")?,
        redirect_uri: r.col("redirect_uri")?,
        code_challenge: r.challenge("code_challenge")?,
        scope: r.scope("scope")?,
        audience: r.list("audience")?,
        nonce: r.col("nonce")?,
        auth_time: r.col("auth_time")?,
        amr: r.amr("amr")?,
        session_id: r.col("session_id")?,
        created_at: r.col("created_at")?,
        expires_at: r.col("expires_at")?,
        dpop_jkt: r.col("dpop_jkt")?,
    })
}

pub(crate) fn grant(r: &impl SqlRow) -> Result<Grant, StoreError> {
    Ok(Grant {
        id: r.col("id")?,
        user_id: r.id("user_id")?,
        client_id: r.id("client_id")?,
        scope: r.scope("scope")?,
        session_id: r.col("session_id")?,
        created_at: r.col("created_at")?,
        expires_at: r.col("expires_at")?,
    })
}

/// An opaque token read by its key (the row holds the stored key, not the SHA-256).
pub(crate) fn token(r: &impl SqlRow, key: &TokenKey) -> Result<OpaqueToken, StoreError> {
    Ok(OpaqueToken {
        digest: key.sha256,
        id: key.id,
        jti: r.col("jti")?,
        client_id: r.id("client_id")?,
        subject: r.col("subject")?,
        scope: r.scope("scope")?,
        audience: r.list("audience")?,
        issued_at: r.col("issued_at")?,
        expires_at: r.col("expires_at")?,
        auth_time: r.col("auth_time")?,
        grant_id: r.col("grant_id")?,
        jkt: r.col("jkt")?,
    })
}

pub(crate) fn refresh_state(r: &impl SqlRow) -> Result<RefreshState, StoreError> {
    Ok(RefreshState {
        token: RefreshToken {
            digest: r.digest("digest")?,
            grant_id: r.col("grant_id")?,
            client_id: r.id("client_id")?,
            user_id: r.id("user_id")?,
            scope: r.scope("scope")?,
            audience: r.list("audience")?,
            auth_time: r.col("auth_time")?,
            issued_at: r.col("issued_at")?,
            expires_at: r.col("expires_at")?,
            family_expires_at: r.col("family_expires_at")?,
            jkt: r.col("jkt")?,
        },
        rotated_at: r.col("rotated_at")?,
        grace_until: r.col("grace_until")?,
        successor: r.col("successor")?,
        user_active: r.col("user_active")?,
    })
}

pub(crate) fn device(r: &impl SqlRow) -> Result<DeviceCode, StoreError> {
    let status: String = r.col("status")?;
    let status = match status.as_str() {
        "pending" => DeviceStatus::Pending,
        "denied" => DeviceStatus::Denied,
        "redeemed" => DeviceStatus::Redeemed,
        "approved" => DeviceStatus::Approved(DeviceApproval {
            user_id: r.col::<Option<String>>("user_id")?.ok_or_else(|| corrupt("approved without a user"))?.into(),
            auth_time: r.col::<Option<i64>>("auth_time")?.ok_or_else(|| corrupt("approved without an auth_time"))?,
            amr: r.amr("amr")?,
        }),
        other => return Err(corrupt(format!("device status {other:?}"))),
    };
    Ok(DeviceCode {
        device_digest: r.digest("device_digest")?,
        user_digest: r.digest("user_digest")?,
        client_id: r.id("client_id")?,
        scope: r.scope("scope")?,
        audience: r.list("audience")?,
        grant_id: r.col("grant_id")?,
        created_at: r.col("created_at")?,
        expires_at: r.col("expires_at")?,
        interval: r.col("interval")?,
        last_poll_at: r.col("last_poll_at")?,
        status,
    })
}

/// How a revocation's target is stored: a kind and a text key.
pub(crate) fn revoked_key(token: &RevokedToken) -> (&'static str, String) {
    match token {
        RevokedToken::Jti(j) => ("jti", j.clone()),
        RevokedToken::Client(c) => ("client", c.clone()),
        RevokedToken::Key(k) => ("key", k.clone()),
        RevokedToken::Grant(g) => ("grant", g.clone()),
        RevokedToken::Opaque(d) => ("opaque", d.to_hex()),
    }
}

pub(crate) fn revocation(r: &impl SqlRow) -> Result<RevocationEntry, StoreError> {
    let kind: String = r.col("kind")?;
    let key: String = r.col("token_key")?;
    let token = match kind.as_str() {
        "jti" => RevokedToken::Jti(key),
        "grant" => RevokedToken::Grant(key),
        "client" => RevokedToken::Client(key),
        "key" => RevokedToken::Key(key),
        _ => RevokedToken::Opaque(
            hex::decode(&key).ok().and_then(|b| Digest::from_slice(&b)).ok_or_else(|| corrupt("revocation digest"))?,
        ),
    };
    Ok(RevocationEntry {
        seq: r.col("seq")?,
        revocation: Revocation {
            token,
            client_id: r.col("client_id")?,
            expires_at: r.col("expires_at")?,
            revoked_at: r.col("revoked_at")?,
        },
    })
}
