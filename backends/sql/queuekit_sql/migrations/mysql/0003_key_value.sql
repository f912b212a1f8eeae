-- queuekit-sql schema 3 (MySQL 8 / MariaDB 10.6+): the key-value table behind periodic jobs,
-- rate limits, cancel flags, progress and worker heartbeats. Times are epoch seconds; NULL:
-- never expires. Idempotent, like every statement here.

CREATE TABLE IF NOT EXISTS {kv} (
    k          VARCHAR(255) NOT NULL PRIMARY KEY,
    v          MEDIUMBLOB NOT NULL,
    expires_at DOUBLE NULL,
    KEY {ix_kv_expiry} (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = {collation};
