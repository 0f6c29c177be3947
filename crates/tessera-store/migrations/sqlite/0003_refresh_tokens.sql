-- Tessera schema v3: refresh tokens (RFC 6749 §6), stored as SHA-256 digests.
-- A family is a grant; a rotated token keeps its row (to recognise reuse)
-- until its own expiry, and its successor's answer, sealed under the master
-- key, only for the retry window.

CREATE TABLE refresh_tokens (
    digest            BLOB PRIMARY KEY NOT NULL,
    grant_id          TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    scope             TEXT NOT NULL,
    audience          TEXT NOT NULL,      -- JSON array of strings
    auth_time         INTEGER NOT NULL,
    issued_at         INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,   -- idle expiry, never past family_expires_at
    family_expires_at INTEGER NOT NULL,
    rotated_at        INTEGER,            -- set once, atomically, by the rotation
    grace_until       INTEGER NOT NULL DEFAULT 0,
    successor         BLOB                -- AES-256-GCM sealed token response, cleared after grace_until
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_grace ON refresh_tokens (grace_until) WHERE successor IS NOT NULL;
