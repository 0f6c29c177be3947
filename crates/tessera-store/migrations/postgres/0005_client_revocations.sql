-- Tessera schema v5 (PostgreSQL): revocations gain the kind 'client' (every
-- token a deleted client was issued; token_key: the client id), so resource
-- servers following the revocation feed stop accepting its JWTs at once.
-- Only the CHECK constraint is widened; rows and counter are untouched.
ALTER TABLE revocations DROP CONSTRAINT revocations_kind;
ALTER TABLE revocations ADD CONSTRAINT revocations_kind CHECK (kind IN ('jti', 'opaque', 'grant', 'client'));
