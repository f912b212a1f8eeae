-- queuekit-sql schema 3 (PostgreSQL): the key-value table behind periodic jobs, rate limits,
-- cancel flags, progress and worker heartbeats. Times are epoch seconds; NULL: never expires.

CREATE TABLE IF NOT EXISTS {kv} (
    k          TEXT COLLATE "C" PRIMARY KEY,  -- byte-wise: prefix scans use the index
    v          BYTEA NOT NULL,
    expires_at DOUBLE PRECISION
);

CREATE INDEX IF NOT EXISTS {ix_kv_expiry} ON {kv} (expires_at);
