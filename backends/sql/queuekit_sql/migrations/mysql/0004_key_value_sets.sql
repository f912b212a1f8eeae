-- queuekit-sql schema 4 (MySQL 8 / MariaDB 10.6+): members of the key-value store's sets
-- (kv_add), which count workflow completions by job id. A set's size is its {kv} row;
-- members expire with it. Idempotent, like every statement here.

CREATE TABLE IF NOT EXISTS {kv_members} (
    k          VARCHAR(255) NOT NULL,
    member     VARCHAR(255) NOT NULL,
    expires_at DOUBLE NULL,
    PRIMARY KEY (k, member),
    KEY {ix_kv_members_expiry} (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = {collation};
