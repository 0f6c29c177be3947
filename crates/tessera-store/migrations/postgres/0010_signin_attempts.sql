-- Tessera schema v10 (PostgreSQL): sign-in failure counters shared by every
-- node, so an account's throttle does not reset when a guesser moves to
-- another node behind the load balancer. Rows live one throttle window.
CREATE TABLE signin_attempts (
    key      TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    first_at BIGINT NOT NULL,
    last_at  BIGINT NOT NULL
);
CREATE INDEX signin_attempts_first ON signin_attempts (first_at);
