-- queuekit-sql schema 1 (SQLite): live jobs, dead letters, results.
-- {jobs}, {dead}, {results} and the index names are validated, quoted identifiers.
-- Times are epoch seconds (REAL). Queue names are data in a column, never identifiers.

CREATE TABLE IF NOT EXISTS {jobs} (
    pk          INTEGER PRIMARY KEY,   -- insertion order: breaks ties between equal due times
    id          TEXT NOT NULL UNIQUE,  -- the job id
    queue       TEXT NOT NULL,
    priority    INTEGER NOT NULL,      -- higher runs first
    state       TEXT NOT NULL,         -- 'ready' | 'delayed' | 'leased'
    due         REAL NOT NULL,         -- when it is (or was) ready: the FIFO key within a priority
    wake_at     REAL,                  -- NULL when ready; delayed: when it becomes ready; leased: lease end
    attempts    INTEGER NOT NULL,      -- reservations so far
    receipt     TEXT,                  -- fences the current lease: a stale ack matches nothing
    dedup_key   TEXT,                  -- SHA-256 of the dedup key, held while queued or running
    body        BLOB NOT NULL,
    enqueued_at REAL NOT NULL
);

-- Only keyed jobs are in this index: most rows have no key.
CREATE UNIQUE INDEX IF NOT EXISTS {ix_jobs_key} ON {jobs} (dedup_key) WHERE dedup_key IS NOT NULL;

-- Reserve reads the next ready jobs of a queue in order, straight off this index.
CREATE INDEX IF NOT EXISTS {ix_jobs_ready} ON {jobs} (queue, priority DESC, due, pk) WHERE state = 'ready';

-- Delayed jobs that fell due and leases that ran out, found by time.
CREATE INDEX IF NOT EXISTS {ix_jobs_waiting} ON {jobs} (queue, wake_at) WHERE wake_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS {dead} (
    pk       INTEGER PRIMARY KEY,
    id       TEXT NOT NULL,
    queue    TEXT NOT NULL,
    priority INTEGER NOT NULL,
    body     BLOB NOT NULL,
    reason   TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    dead_at  REAL NOT NULL
);

CREATE INDEX IF NOT EXISTS {ix_dead_queue} ON {dead} (queue, pk);

CREATE INDEX IF NOT EXISTS {ix_dead_id} ON {dead} (id);

-- Final outcomes, kept until expires_at; expired rows are swept by the broker.
CREATE TABLE IF NOT EXISTS {results} (
    job_id     TEXT PRIMARY KEY,
    status     TEXT NOT NULL,
    data       BLOB NOT NULL,          -- the outcome as JSON
    expires_at REAL NOT NULL
);

CREATE INDEX IF NOT EXISTS {ix_results_expiry} ON {results} (expires_at);
