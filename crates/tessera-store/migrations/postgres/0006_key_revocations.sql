-- Tessera schema v6 (PostgreSQL): revocations gain the kind 'key' (every
-- token a compromised signing key signed; token_key: the kid), so resource
-- servers following the revocation feed drop what it verified and refuse
-- its kid. Recording one deletes the key itself. Only the CHECK constraint
-- is widened; rows and counter are untouched.
ALTER TABLE revocations DROP CONSTRAINT revocations_kind;
ALTER TABLE revocations ADD CONSTRAINT revocations_kind CHECK (kind IN ('jti', 'opaque', 'grant', 'client', 'key'));
