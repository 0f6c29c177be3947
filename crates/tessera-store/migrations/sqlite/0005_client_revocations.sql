-- Tessera schema v5: revocations gain the kind 'client' (every token a
-- deleted client was issued), so resource servers following the revocation
-- feed stop accepting its JWTs at once. The table is rebuilt as in 0002,
-- carrying the AUTOINCREMENT counter over so no sequence number is reused.
CREATE TABLE revocations_v3 (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('jti', 'opaque', 'grant', 'client')),
    token_key  TEXT NOT NULL,             -- jti, hex SHA-256 of an opaque token, grant id or client id
    client_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
);
INSERT INTO sqlite_sequence (name, seq) SELECT 'revocations_v3', seq FROM sqlite_sequence WHERE name = 'revocations';
INSERT INTO revocations_v3 (seq, kind, token_key, client_id, expires_at, revoked_at)
    SELECT seq, kind, token_key, client_id, expires_at, revoked_at FROM revocations;
DROP TABLE revocations;
ALTER TABLE revocations_v3 RENAME TO revocations;
CREATE INDEX revocations_expires_at ON revocations (expires_at);
