-- Tessera schema v1: clients, signing keys, opaque access tokens, revocations.
-- Credentials are stored only as SHA-256 digests; signing keys sealed under the master key.

CREATE TABLE clients (
    client_id     TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    secret_digest BLOB,
    settings      TEXT NOT NULL,          -- JSON: tessera_core::client::ClientSettings
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY NOT NULL,
    alg                TEXT NOT NULL,
    sealed_private_key BLOB NOT NULL,
    created_at         INTEGER NOT NULL,
    activates_at       INTEGER NOT NULL    -- signs from then on; published from creation
);

CREATE TABLE access_tokens (
    digest     BLOB PRIMARY KEY NOT NULL,
    jti        TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    audience   TEXT NOT NULL,             -- JSON array of strings
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

-- The revocation feed: sequence numbers only grow (AUTOINCREMENT never reuses one).
CREATE TABLE revocations (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('jti', 'opaque')),
    token_key  TEXT NOT NULL,             -- the jti, or the hex SHA-256 of an opaque token
    client_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
);
CREATE INDEX revocations_expires_at ON revocations (expires_at);
