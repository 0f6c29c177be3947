-- Tessera schema v3 (PostgreSQL): refresh tokens (RFC 6749 §6), stored as
-- SHA-256 digests. A family is a grant; a rotated token keeps its row (to
-- recognise reuse) until its own expiry, and its successor's answer, sealed
-- under the master key, only for the retry window.

CREATE TABLE refresh_tokens (
    digest            BYTEA PRIMARY KEY,
    grant_id          TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    scope             TEXT NOT NULL,
    audience          TEXT NOT NULL,      -- JSON array of strings
    auth_time         BIGINT NOT NULL,
    issued_at         BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,    -- idle expiry, never past family_expires_at
    family_expires_at BIGINT NOT NULL,
    rotated_at        BIGINT,             -- set once, atomically, by the rotation
    grace_until       BIGINT NOT NULL DEFAULT 0,
    successor         BYTEA               -- AES-256-GCM sealed token response, cleared after grace_until
);
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_client_id ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_grace ON refresh_tokens (grace_until) WHERE successor IS NOT NULL;
