-- Tessera schema v4: the device authorization grant (RFC 8628).
-- Device and user codes are stored only as SHA-256 digests.

CREATE TABLE device_codes (
    device_digest BLOB PRIMARY KEY NOT NULL,
    user_digest   BLOB NOT NULL UNIQUE,
    client_id     TEXT NOT NULL,
    scope         TEXT NOT NULL,
    audience      TEXT NOT NULL,          -- JSON array of strings
    grant_id      TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    interval      INTEGER NOT NULL,
    last_poll_at  INTEGER,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'redeemed')),
    user_id       TEXT,                   -- set on approval
    auth_time     INTEGER,
    amr           TEXT
) WITHOUT ROWID;
CREATE INDEX device_codes_expires_at ON device_codes (expires_at);
