-- Tessera schema v4 (PostgreSQL): the device authorization grant (RFC 8628).
-- Device and user codes are stored only as SHA-256 digests.

CREATE TABLE device_codes (
    device_digest BYTEA PRIMARY KEY,
    user_digest   BYTEA NOT NULL UNIQUE,
    client_id     TEXT NOT NULL,
    scope         TEXT NOT NULL,
    audience      TEXT NOT NULL,          -- JSON array of strings
    grant_id      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    "interval"    BIGINT NOT NULL,        -- seconds between polls (quoted: a keyword in PostgreSQL)
    last_poll_at  BIGINT,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'redeemed')),
    user_id       TEXT,                   -- set on approval
    auth_time     BIGINT,
    amr           TEXT
);
CREATE INDEX device_codes_expires_at ON device_codes (expires_at);
CREATE INDEX device_codes_client_id ON device_codes (client_id);
