-- The SQL broker's statements, one named block each: a "-- name: <name>" line, then the SQL.
-- A block in sqlite.sql, postgresql.sql or mysql.sql replaces the block of the same name here
-- for that database. How blocks are read and compiled: statements.py.
--
--   {jobs} {dead} {results} {kv} {kv_members}  the quoted table names
--   {now}                                      the clock: the database's, or the bound :now
--   :name                                      a parameter
--   IN :name                                   a list: an IN list of a cached size, or one
--                                              array (= ANY(...)) on PostgreSQL
--   {i} {arms} {delays}                        shape slots of the claim and the nack
--
-- Comment lines inside a block are dropped; result columns are named (AS ...) where they are
-- expressions, because rows are read by column name (records.py).

-- name: insert_job
INSERT INTO {jobs} (id, queue, priority, state, due, wake_at, attempts, dedup_key, body, enqueued_at)
VALUES (:id, :queue, :priority, :state, {now} + :delay, CASE WHEN :delay > 0 THEN {now} + :delay END,
        0, :dedup_key, :body, {now})
ON CONFLICT DO NOTHING

-- name: key_holders
SELECT dedup_key, id FROM {jobs} WHERE dedup_key IN :keys

-- name: ack
-- Held: the lease is current and the receipt matches. Receipts are 32 hex digits, so
-- receipt || id names one (receipt, id) pair: a batch is one statement, index on id.
DELETE FROM {jobs} WHERE state = 'leased' AND wake_at > {now} AND id IN :ids AND receipt || id IN :tags

-- name: extend
UPDATE {jobs} SET wake_at = {now} + :lease
WHERE state = 'leased' AND wake_at > {now} AND id IN :ids AND receipt || id IN :tags

-- name: still_held
SELECT id, receipt FROM {jobs}
WHERE state = 'leased' AND wake_at > {now} AND id IN :ids AND receipt || id IN :tags

-- name: stats
SELECT queue,
  SUM(CASE WHEN state = 'ready' OR wake_at <= {now} THEN 1 ELSE 0 END) AS ready_jobs,
  SUM(CASE WHEN state = 'delayed' AND wake_at > {now} THEN 1 ELSE 0 END) AS delayed_jobs,
  SUM(CASE WHEN state = 'leased' AND wake_at > {now} THEN 1 ELSE 0 END) AS leased_jobs
FROM {jobs} WHERE queue IN :names GROUP BY queue

-- name: stats_all
SELECT queue,
  SUM(CASE WHEN state = 'ready' OR wake_at <= {now} THEN 1 ELSE 0 END) AS ready_jobs,
  SUM(CASE WHEN state = 'delayed' AND wake_at > {now} THEN 1 ELSE 0 END) AS delayed_jobs,
  SUM(CASE WHEN state = 'leased' AND wake_at > {now} THEN 1 ELSE 0 END) AS leased_jobs
FROM {jobs} WHERE queue IS NOT NULL GROUP BY queue

-- name: dead_counts
SELECT queue, COUNT(*) AS dead_jobs FROM {dead} WHERE queue IN :names GROUP BY queue

-- name: dead_counts_all
SELECT queue, COUNT(*) AS dead_jobs FROM {dead} WHERE queue IS NOT NULL GROUP BY queue

-- name: purge
DELETE FROM {jobs} WHERE queue = :queue AND (state <> 'leased' OR wake_at <= {now})

-- name: remove
DELETE FROM {jobs} WHERE id = :id AND (state <> 'leased' OR wake_at <= {now})

-- name: dead_list
SELECT id, queue, body, reason, attempts, dead_at FROM {dead} WHERE queue = :queue ORDER BY pk LIMIT :limit

-- name: dead_take
SELECT pk, id, queue, priority, body FROM {dead} WHERE queue = :queue FOR UPDATE

-- name: dead_take_ids
SELECT pk, id, queue, priority, body FROM {dead} WHERE queue = :queue AND id IN :ids FOR UPDATE

-- name: delete_jobs
-- Dead-lettering on SQLite and MySQL, after take_held: the held rows' letters, then the rows.
DELETE FROM {jobs} WHERE pk IN :pks

-- name: insert_dead
INSERT INTO {dead} (id, queue, priority, body, reason, attempts, dead_at)
VALUES (:id, :queue, :priority, :body, :reason, :attempts, {now})

-- name: dead_delete
DELETE FROM {dead} WHERE pk IN :pks

-- name: requeue
INSERT INTO {jobs} (id, queue, priority, state, due, wake_at, attempts, dedup_key, body, enqueued_at)
VALUES (:id, :queue, :priority, 'ready', {now}, NULL, 0, NULL, :body, {now})
ON CONFLICT DO NOTHING

-- name: results_forget
DELETE FROM {results} WHERE job_id IN :ids

-- name: purge_dead
DELETE FROM {dead} WHERE queue = :queue

-- name: delete_queue
DELETE FROM {jobs} WHERE queue = :queue

-- name: job_state
SELECT state, CASE WHEN wake_at > {now} THEN 1 ELSE 0 END AS live FROM {jobs} WHERE id = :id

-- name: is_dead
SELECT 1 AS dead FROM {dead} WHERE id = :id

-- name: waiting_ready
-- Browsing (JobBrowser): ready rows in claim order off the ready index.
SELECT id, queue, body, attempts, priority, wake_at FROM {jobs} WHERE queue = :queue AND state = 'ready'
ORDER BY priority DESC, due, pk LIMIT :limit

-- name: waiting_delayed
SELECT id, queue, body, attempts, priority, wake_at FROM {jobs} WHERE queue = :queue AND state = 'delayed'
ORDER BY wake_at, pk LIMIT :limit

-- name: save_result
INSERT INTO {results} (job_id, status, data, expires_at) VALUES (:job_id, :status, :data, {now} + :ttl)
ON CONFLICT (job_id) DO UPDATE SET status = excluded.status, data = excluded.data, expires_at = excluded.expires_at

-- name: load_result
SELECT data FROM {results} WHERE job_id = :job_id AND expires_at > {now}

-- name: sweep_results
DELETE FROM {results} WHERE expires_at <= {now}

-- The KeyValue primitive. A row past expires_at reads as absent; writes that must see
-- "absent" delete the expired row of their key first, in the same transaction.

-- name: kv_get
SELECT v FROM {kv} WHERE k = :k AND (expires_at IS NULL OR expires_at > {now})

-- name: kv_drop_expired
DELETE FROM {kv} WHERE k = :k AND expires_at <= {now}

-- name: kv_insert
INSERT INTO {kv} (k, v, expires_at) VALUES (:k, :v, {now} + :ttl) ON CONFLICT (k) DO NOTHING

-- name: kv_upsert
INSERT INTO {kv} (k, v, expires_at) VALUES (:k, :v, {now} + :ttl)
ON CONFLICT (k) DO UPDATE SET v = excluded.v, expires_at = excluded.expires_at

-- name: kv_cas
UPDATE {kv} SET v = :v, expires_at = {now} + :ttl
WHERE k = :k AND v = :old AND (expires_at IS NULL OR expires_at > {now})

-- name: kv_lock
SELECT v FROM {kv} WHERE k = :k FOR UPDATE

-- name: kv_put
UPDATE {kv} SET v = :v WHERE k = :k

-- name: kv_delete
DELETE FROM {kv} WHERE k = :k AND (expires_at IS NULL OR expires_at > {now})

-- name: kv_delete_if
DELETE FROM {kv} WHERE k = :k AND (expires_at IS NULL OR expires_at > {now}) AND v = :old

-- name: kv_scan
-- LIKE finds the range on the index; SUBSTR makes the match exact where LIKE ignores case (SQLite).
SELECT k, v FROM {kv}
WHERE k LIKE :pattern ESCAPE '!' AND SUBSTR(k, 1, :n) = :prefix AND (expires_at IS NULL OR expires_at > {now})
LIMIT :limit

-- name: kv_sweep
DELETE FROM {kv} WHERE expires_at <= {now}

-- name: kv_lock_expiry
-- Sets (kv_add): the size is the set's {kv} row, locked while a member is added.
SELECT v, expires_at FROM {kv} WHERE k = :k FOR UPDATE

-- name: kvm_drop_expired
DELETE FROM {kv_members} WHERE k = :k AND expires_at <= {now}

-- name: kvm_insert
INSERT INTO {kv_members} (k, member, expires_at) VALUES (:k, :member, :expires_at) ON CONFLICT (k, member) DO NOTHING

-- name: kvm_sweep
DELETE FROM {kv_members} WHERE expires_at <= {now}
