-- Tessera schema v1 (PostgreSQL): clients, signing keys, opaque access
-- tokens, revocations. The same steps as migrations/sqlite/0001_init.sql.
-- Credentials are stored only as SHA-256 digests; signing keys sealed under the master key.
-- Times are Unix seconds (BIGINT).

-- OAuth clients.
CREATE TABLE clients (
    client_id     TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    secret_digest BYTEA,
    settings      TEXT NOT NULL,          -- JSON: tessera_core::client::ClientSettings
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- Signing keys, sealed under the master key.
CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY,
    alg                TEXT NOT NULL,
    sealed_private_key BYTEA NOT NULL,
    created_at         BIGINT NOT NULL,
    activates_at       BIGINT NOT NULL,   -- signs from then on; published from creation
    inserted           BIGINT GENERATED ALWAYS AS IDENTITY  -- insertion order (SQLite's rowid): ties on activates_at
);

-- Opaque access tokens, by digest.
CREATE TABLE access_tokens (
    digest     BYTEA PRIMARY KEY,
    jti        TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    audience   TEXT NOT NULL,             -- JSON array of strings
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

-- The revocation feed. Sequence numbers come from revocation_counter, not
-- from a SEQUENCE: a sequence hands out numbers in call order, and a reader
-- could see seq N committed before N-1; the counter row is locked from the
-- increment to the commit, so numbers are handed out in commit order.
CREATE TABLE revocations (
    seq        BIGINT PRIMARY KEY,
    kind       TEXT NOT NULL CONSTRAINT revocations_kind CHECK (kind IN ('jti', 'opaque')),
    token_key  TEXT NOT NULL,             -- the jti, or the hex SHA-256 of an opaque token
    client_id  TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL
);
CREATE INDEX revocations_expires_at ON revocations (expires_at);

-- One row: the highest revocation sequence number handed out (kept when
-- its entry is purged, so the feed's head never goes back).
CREATE TABLE revocation_counter (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CONSTRAINT revocation_counter_one_row CHECK (one),
    seq BIGINT NOT NULL
);
INSERT INTO revocation_counter (seq) VALUES (0);
