-- queuekit-sql schema 4 (PostgreSQL): members of the key-value store's sets (kv_add), which
-- count workflow completions by job id. A set's size is its {kv} row; members expire with it.

CREATE TABLE IF NOT EXISTS {kv_members} (
    k          TEXT COLLATE "C" NOT NULL,
    member     TEXT COLLATE "C" NOT NULL,
    expires_at DOUBLE PRECISION,
    PRIMARY KEY (k, member)
);

CREATE INDEX IF NOT EXISTS {ix_kv_members_expiry} ON {kv_members} (expires_at);
