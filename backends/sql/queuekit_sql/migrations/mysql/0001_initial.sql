-- queuekit-sql schema 1 (MySQL 8 / MariaDB 10.6+): live jobs, dead letters, results.
-- {jobs}, {dead}, {results} and the index names are validated, quoted identifiers;
-- {collation} is a binary no-pad collation, so 'Q', 'q' and 'q ' are three queues.
-- DDL is not transactional here: every statement is idempotent, so a rerun finishes the job.

CREATE TABLE IF NOT EXISTS {jobs} (
    pk          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,  -- breaks ties between equal due times
    id          VARCHAR(255) NOT NULL,
    queue       VARCHAR(255) NOT NULL,
    priority    BIGINT NOT NULL,          -- higher runs first
    state       VARCHAR(8) NOT NULL,      -- 'ready' | 'delayed' | 'leased'
    due         DOUBLE NOT NULL,          -- when it is (or was) ready: the FIFO key within a priority
    wake_at     DOUBLE NULL,              -- NULL when ready; delayed: when it becomes ready; leased: lease end
    attempts    INT NOT NULL,
    receipt     VARCHAR(64) NULL,         -- fences the current lease
    dedup_key   CHAR(64) NULL,            -- SHA-256 of the dedup key, held while queued or running
    body        LONGBLOB NOT NULL,
    enqueued_at DOUBLE NOT NULL,
    UNIQUE KEY {ix_jobs_id} (id),
    UNIQUE KEY {ix_jobs_key} (dedup_key),
    -- no partial indexes here: state leads, so ready rows of a queue are one ordered range
    KEY {ix_jobs_ready} (queue, state, priority DESC, due, pk),
    KEY {ix_jobs_waiting} (queue, wake_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = {collation};

CREATE TABLE IF NOT EXISTS {dead} (
    pk       BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    id       VARCHAR(255) NOT NULL,
    queue    VARCHAR(255) NOT NULL,
    priority BIGINT NOT NULL,
    body     LONGBLOB NOT NULL,
    reason   MEDIUMTEXT NOT NULL,
    attempts INT NOT NULL,
    dead_at  DOUBLE NOT NULL,
    KEY {ix_dead_queue} (queue, pk),
    KEY {ix_dead_id} (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = {collation};

CREATE TABLE IF NOT EXISTS {results} (
    job_id     VARCHAR(255) NOT NULL PRIMARY KEY,
    status     VARCHAR(16) NOT NULL,
    data       LONGBLOB NOT NULL,         -- the outcome as JSON
    expires_at DOUBLE NOT NULL,
    KEY {ix_results_expiry} (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = {collation};
