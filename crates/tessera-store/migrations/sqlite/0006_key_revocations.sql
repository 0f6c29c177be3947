-- Tessera schema v6: revocations gain the kind 'key' (every token a
-- compromised signing key signed; token_key: the kid), so resource servers
-- following the revocation feed drop what it verified and refuse its kid.
-- Recording one deletes the key itself. The table is rebuilt as in 0005,
-- carrying the AUTOINCREMENT counter over so no sequence number is reused.
CREATE TABLE revocations_v4 (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('jti', 'opaque', 'grant', 'client', 'key')),
    token_key  TEXT NOT NULL,             -- jti, hex SHA-256 of an opaque token, grant id, client id or kid
    client_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
);
INSERT INTO sqlite_sequence (name, seq) SELECT 'revocations_v4', seq FROM sqlite_sequence WHERE name = 'revocations';
INSERT INTO revocations_v4 (seq, kind, token_key, client_id, expires_at, revoked_at)
    SELECT seq, kind, token_key, client_id, expires_at, revoked_at FROM revocations;
DROP TABLE revocations;
ALTER TABLE revocations_v4 RENAME TO revocations;
CREATE INDEX revocations_expires_at ON revocations (expires_at);
