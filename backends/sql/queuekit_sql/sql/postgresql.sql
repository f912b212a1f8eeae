-- PostgreSQL's blocks: each replaces the block of the same name in common.sql (see there).
-- A list (IN :name) is bound as one array, sent in binary like every CAST(:name AS type[]):
-- one short statement whatever the count.

-- name: insert_notify
-- One job: insert and wake listeners in one statement (one round trip). No ON CONFLICT (a
-- speculative insertion costs about 6% of a one-row commit): a taken job id raises a unique
-- violation, which the broker takes as "already enqueued".
WITH ins AS (
  INSERT INTO {jobs} (id, queue, priority, state, due, wake_at, attempts, dedup_key, body, enqueued_at)
  VALUES (:id, :queue, :priority, :state, {now} + :delay, CASE WHEN :delay > 0 THEN {now} + :delay END,
          0, :dedup_key, :body, {now})
  RETURNING queue)
SELECT pg_notify(:channel, queue) FROM ins

-- name: insert_job_arrays
-- Batches: one statement whatever the count, each column bound as one array, that also wakes
-- the listeners of each queue it wrote to (when :notify), so an unkeyed batch is one round trip.
-- WITH ORDINALITY keeps the batch's order in the identity column (FIFO within a batch).
-- {on_conflict} is filled by the code: empty for batches with no dedup key (a speculative
-- insertion per row cost about a third of the statement's server time, 1,000 rows: 12 ms
-- against 8 ms; a job id already there then fails the batch, which the broker writes again),
-- "ON CONFLICT DO NOTHING" otherwise.
WITH ins AS (
  INSERT INTO {jobs} (id, queue, priority, state, due, wake_at, attempts, dedup_key, body, enqueued_at)
  SELECT id, queue, priority, state, {now} + delay, CASE WHEN delay > 0 THEN {now} + delay END,
         0, dedup_key, body, {now}
  FROM unnest(CAST(:id_list AS TEXT[]), CAST(:queue_list AS TEXT[]), CAST(:priority_list AS BIGINT[]),
              CAST(:state_list AS TEXT[]), CAST(:delay_list AS DOUBLE PRECISION[]), CAST(:dedup_key_list AS TEXT[]),
              CAST(:body_list AS BYTEA[]))
       WITH ORDINALITY AS batch (id, queue, priority, state, delay, dedup_key, body, n)
  ORDER BY n
  {on_conflict}
  RETURNING queue)
SELECT pg_notify(:channel, queue) FROM (SELECT DISTINCT queue FROM ins) AS written WHERE CAST(:notify AS BOOLEAN)

-- name: claim_ready_arm
-- One arm per queue and kind (claim): the ready jobs of the queue in order, and the delayed
-- jobs or lapsed leases that have fallen due. "eff" is when the job became ready.
SELECT ctid, pk, priority, eff FROM (SELECT ctid, pk, priority, due AS eff FROM {jobs}
  WHERE queue = :q{i} AND state = 'ready'
  ORDER BY priority DESC, due, pk LIMIT :limit FOR UPDATE SKIP LOCKED) AS r{i}

-- name: claim_due_arm
SELECT ctid, pk, priority, eff FROM (SELECT ctid, pk, priority, wake_at AS eff FROM {jobs}
  WHERE queue = :q{i} AND wake_at <= {now}
  ORDER BY priority DESC, wake_at, pk LIMIT :limit FOR UPDATE SKIP LOCKED) AS w{i}

-- name: claim
-- Claim in one statement: lock the candidates, lease exactly those rows by ctid (the row
-- locks keep it fixed until commit; there is no index on pk since schema 2).
WITH picked AS MATERIALIZED (
  SELECT ctid, pk, priority, eff FROM ({arms}) AS c ORDER BY priority DESC, eff, pk LIMIT :limit)
UPDATE {jobs} SET due = CASE WHEN state = 'ready' THEN due ELSE wake_at END,
    state = 'leased', wake_at = {now} + :lease, attempts = attempts + 1, receipt = :receipt
WHERE ctid = ANY(ARRAY(SELECT ctid FROM picked))
RETURNING id, queue, body, attempts, priority, due, pk

-- name: nack
-- Nack a batch in one statement, each row after its own delay: the entry of :delays at the
-- position of the row's tag in :tags. The receipt is cleared last.
UPDATE {jobs}
SET due = {now} + (CAST(:delays AS DOUBLE PRECISION[]))[array_position(CAST(:tags AS TEXT[]), receipt || id)],
    state = CASE WHEN (CAST(:delays AS DOUBLE PRECISION[]))[array_position(CAST(:tags AS TEXT[]), receipt || id)] > 0
                 THEN 'delayed' ELSE 'ready' END,
    wake_at = CASE WHEN (CAST(:delays AS DOUBLE PRECISION[]))[array_position(CAST(:tags AS TEXT[]), receipt || id)] > 0
                   THEN {now} + (CAST(:delays AS DOUBLE PRECISION[]))[array_position(CAST(:tags AS TEXT[]), receipt || id)]
              END,
    attempts = attempts - :refund, receipt = NULL
WHERE state = 'leased' AND wake_at > {now} AND id IN :ids AND receipt || id IN :tags

-- name: dead_move
-- Dead-letter a batch in one statement; each letter's reason is the :reasons entry of its tag.
WITH gone AS (
  DELETE FROM {jobs} WHERE state = 'leased' AND wake_at > {now} AND id IN :ids AND receipt || id IN :tags
  RETURNING id, queue, priority, body, attempts, receipt || id AS tag)
INSERT INTO {dead} (id, queue, priority, body, reason, attempts, dead_at)
SELECT id, queue, priority, body, (CAST(:reasons AS TEXT[]))[array_position(CAST(:tags AS TEXT[]), tag)],
       attempts, {now}
FROM gone ORDER BY array_position(CAST(:tags AS TEXT[]), tag)

-- name: notify
SELECT pg_notify(:channel, :queue)
