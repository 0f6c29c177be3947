-- Tessera schema v9: deployment settings every process must agree on, by
-- name. `serve` records the issuer it serves, so CLI commands mint tokens
-- with the issuer the server accepts.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
