-- Tessera schema v10 (SQLite): nothing. One SQLite database serves one node,
-- whose sign-in counters live in its memory; PostgreSQL's v10 shares them
-- across nodes. Kept so both backends number their migrations alike.
SELECT 1;
