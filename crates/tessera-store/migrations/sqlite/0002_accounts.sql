-- Tessera schema v2: people signing in. Users, the scope registry, browser
-- sessions, remembered consent, authorization codes and grants.
-- Session cookies and codes are stored only as SHA-256 digests; passwords as argon2id PHC strings.

ALTER TABLE access_tokens ADD COLUMN auth_time INTEGER;
ALTER TABLE access_tokens ADD COLUMN grant_id TEXT;
CREATE INDEX access_tokens_grant_id ON access_tokens (grant_id) WHERE grant_id IS NOT NULL;

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL UNIQUE,      -- lower-case
    email         TEXT NOT NULL,
    name          TEXT,
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE scopes (
    name        TEXT PRIMARY KEY NOT NULL,
    description TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE sessions (
    digest     BLOB PRIMARY KEY NOT NULL,
    id         TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL,
    auth_time  INTEGER NOT NULL,
    amr        TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE consents (
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) WITHOUT ROWID;
CREATE INDEX consents_client_id ON consents (client_id);

CREATE TABLE auth_codes (
    digest         BLOB PRIMARY KEY NOT NULL,
    client_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    grant_id       TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    scope          TEXT NOT NULL,
    audience       TEXT NOT NULL,            -- JSON array of strings
    nonce          TEXT,
    auth_time      INTEGER NOT NULL,
    amr            TEXT NOT NULL,
    session_id     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER                   -- set once, atomically, by the redemption
) WITHOUT ROWID;
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

CREATE TABLE grants (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    session_id TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX grants_user_id ON grants (user_id);
CREATE INDEX grants_client_id ON grants (client_id);
CREATE INDEX grants_expires_at ON grants (expires_at);

-- Revocations gain the kind 'grant'. SQLite cannot alter a CHECK constraint,
-- so the table is rebuilt; its AUTOINCREMENT counter is carried over first,
-- so no sequence number is ever handed out twice.
CREATE TABLE revocations_v2 (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('jti', 'opaque', 'grant')),
    token_key  TEXT NOT NULL,             -- the jti, the hex SHA-256 of an opaque token, or a grant id
    client_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
);
INSERT INTO sqlite_sequence (name, seq) SELECT 'revocations_v2', seq FROM sqlite_sequence WHERE name = 'revocations';
INSERT INTO revocations_v2 (seq, kind, token_key, client_id, expires_at, revoked_at)
    SELECT seq, kind, token_key, client_id, expires_at, revoked_at FROM revocations;
DROP TABLE revocations;
ALTER TABLE revocations_v2 RENAME TO revocations;
CREATE INDEX revocations_expires_at ON revocations (expires_at);
