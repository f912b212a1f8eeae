-- queuekit-sql schema 2 (PostgreSQL): the job id becomes the primary key.
-- Schema 1 kept a bigint primary key beside the unique job id, so every enqueue and
-- every claim (an UPDATE that writes a new row version, with an entry in every index)
-- paid for one more index entry. The bigint column stays as the insertion-order
-- tie-breaker inside the ready index; a claim finds the rows it locked by ctid.
-- The index on id is rebuilt once, under the table lock (a second or two per million jobs).

ALTER TABLE {jobs} DROP CONSTRAINT IF EXISTS {ix_jobs_pkey};

ALTER TABLE {jobs} DROP CONSTRAINT IF EXISTS {ix_jobs_id_key};

ALTER TABLE {jobs} ADD CONSTRAINT {ix_jobs_pkey} PRIMARY KEY (id);
