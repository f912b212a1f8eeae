-- SQLite's blocks: each replaces the block of the same name in common.sql (see there).
-- One writer at a time: BEGIN IMMEDIATE already excludes other claimers, so nothing here
-- locks rows (no FOR UPDATE).

-- name: claim_ready_arm
-- One arm per queue and kind (claim): the ready jobs of the queue in order, and the delayed
-- jobs or lapsed leases that have fallen due. "eff" is when the job became ready.
SELECT pk, priority, eff FROM (SELECT pk, priority, due AS eff FROM {jobs}
  WHERE queue = :q{i} AND state = 'ready'
  ORDER BY priority DESC, due, pk LIMIT :limit) AS r{i}

-- name: claim_due_arm
SELECT pk, priority, eff FROM (SELECT pk, priority, wake_at AS eff FROM {jobs}
  WHERE queue = :q{i} AND wake_at <= {now}
  ORDER BY priority DESC, wake_at, pk LIMIT :limit) AS w{i}

-- name: claim
-- Claim in one statement: pick the candidates, lease exactly those rows by rowid.
-- "due" is assigned before "state" (as on MySQL, where SET reads the values assigned before it).
WITH picked AS MATERIALIZED (
  SELECT pk, priority, eff FROM ({arms}) AS c ORDER BY priority DESC, eff, pk LIMIT :limit)
UPDATE {jobs} SET due = CASE WHEN state = 'ready' THEN due ELSE wake_at END,
    state = 'leased', wake_at = {now} + :lease, attempts = attempts + 1, receipt = :receipt
WHERE pk IN (SELECT pk FROM picked)
RETURNING id, queue, body, attempts, priority, due, pk

-- name: nack
-- Nack a batch in one statement, each row after its own delay: {delays} holds one
-- "WHEN :tagsN THEN :delaysN" per job of the batch. The receipt is cleared last.
UPDATE {jobs} SET due = {now} + (CASE receipt || id {delays} END),
    state = CASE WHEN (CASE receipt || id {delays} END) > 0 THEN 'delayed' ELSE 'ready' END,
    wake_at = CASE WHEN (CASE receipt || id {delays} END) > 0 THEN {now} + (CASE receipt || id {delays} END) END,
    attempts = attempts - :refund, receipt = NULL
WHERE state = 'leased' AND wake_at > {now} AND id IN :ids AND receipt || id IN :tags

-- name: take_held
-- Dead-lettering: the held rows, then insert_dead and delete_jobs (three statements a batch).
SELECT pk, id, queue, priority, body, attempts, receipt FROM {jobs}
WHERE state = 'leased' AND wake_at > {now} AND id IN :ids AND receipt || id IN :tags

-- name: dead_take
SELECT pk, id, queue, priority, body FROM {dead} WHERE queue = :queue

-- name: dead_take_ids
SELECT pk, id, queue, priority, body FROM {dead} WHERE queue = :queue AND id IN :ids

-- name: kv_lock
SELECT v FROM {kv} WHERE k = :k

-- name: kv_lock_expiry
SELECT v, expires_at FROM {kv} WHERE k = :k
