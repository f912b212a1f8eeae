-- queuekit-sql schema 3 (SQLite): the key-value table behind periodic jobs, rate limits,
-- cancel flags, progress and worker heartbeats. Times are epoch seconds; NULL: never expires.

CREATE TABLE IF NOT EXISTS {kv} (
    k          TEXT PRIMARY KEY,
    v          BLOB NOT NULL,
    expires_at REAL
);

CREATE INDEX IF NOT EXISTS {ix_kv_expiry} ON {kv} (expires_at);
