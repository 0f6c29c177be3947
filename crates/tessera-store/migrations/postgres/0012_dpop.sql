-- Tessera schema v12 (PostgreSQL): DPoP (RFC 9449).
-- The replay cache of proof-of-possession proofs, shared by every node: a
-- key (a digest of the proof's identity) is used once until it expires,
-- then purged.
CREATE TABLE replays (
    key        BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX replays_expires ON replays (expires_at);
-- Key bindings: the RFC 7638 thumbprint of the key a token or code is
-- bound to; NULL for a bearer token or an unbound code. Adding a nullable
-- column without a default rewrites no rows.
ALTER TABLE access_tokens ADD COLUMN jkt TEXT;
ALTER TABLE refresh_tokens ADD COLUMN jkt TEXT;
ALTER TABLE auth_codes ADD COLUMN dpop_jkt TEXT;
