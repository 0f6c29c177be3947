-- Tessera schema v11: opaque access and refresh tokens carry a time-ordered
-- lookup id, and their rows are keyed by it (the id then 20 bytes of the
-- token's SHA-256), so new rows append to the index. Revoking such an access
-- token records its SHA-256 but cannot find its row by it: the row stays
-- until it expires, and lookups check this index for its revocation entry.
CREATE INDEX revocations_opaque ON revocations (token_key) WHERE kind = 'opaque';
