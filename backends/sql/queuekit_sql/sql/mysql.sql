-- MySQL's and MariaDB's blocks: each replaces the block of the same name in common.sql (see
-- there). || is OR here: a (receipt, id) pair is named by CONCAT(receipt, id). An insert skips
-- a taken key with ON DUPLICATE KEY UPDATE / INSERT IGNORE (0 rows affected, whatever the
-- client flags).

-- name: max_packet
SELECT @@max_allowed_packet AS packet

-- name: insert_job
INSERT INTO {jobs} (id, queue, priority, state, due, wake_at, attempts, dedup_key, body, enqueued_at)
VALUES (:id, :queue, :priority, :state, {now} + :delay, CASE WHEN :delay > 0 THEN {now} + :delay END,
        0, :dedup_key, :body, {now})
ON DUPLICATE KEY UPDATE pk = pk

-- name: clock
SELECT {now} AS clock

-- name: insert_job_bound
-- Batches: every value a parameter (times read from the server clock once per batch, by
-- clock), so the driver folds the batch into multi-row INSERTs.
INSERT INTO {jobs} (id, queue, priority, state, due, wake_at, attempts, dedup_key, body, enqueued_at)
VALUES (:id, :queue, :priority, :state, :due, :wake_at, :attempts, :dedup_key, :body, :enqueued_at)
ON DUPLICATE KEY UPDATE pk = pk

-- name: claim_ready_arm
-- One arm per queue and kind (pick): the ready jobs of the queue in order, and the delayed
-- jobs or lapsed leases that have fallen due. "eff" is when the job became ready.
SELECT pk, id, queue, body, attempts, priority, eff FROM (
  SELECT pk, id, queue, body, attempts, priority, due AS eff FROM {jobs}
  WHERE queue = :q{i} AND state = 'ready'
  ORDER BY priority DESC, due, pk LIMIT :limit FOR UPDATE SKIP LOCKED) AS r{i}

-- name: claim_due_arm
SELECT pk, id, queue, body, attempts, priority, eff FROM (
  SELECT pk, id, queue, body, attempts, priority, wake_at AS eff FROM {jobs}
  WHERE queue = :q{i} AND wake_at <= {now}
  ORDER BY priority DESC, wake_at, pk LIMIT :limit FOR UPDATE SKIP LOCKED) AS w{i}

-- name: pick
-- Claim in two steps (no UPDATE ... RETURNING here): lock the candidates with everything a
-- delivery needs, then lease_picked leases them by key.
SELECT pk, id, queue, body, attempts, priority, eff FROM ({arms}) AS c ORDER BY priority DESC, eff, pk LIMIT :limit

-- name: lease_picked
-- SET evaluates left to right with the new values: "due" is assigned before "state".
UPDATE {jobs} SET due = CASE WHEN state = 'ready' THEN due ELSE wake_at END,
    state = 'leased', wake_at = {now} + :lease, attempts = attempts + 1, receipt = :receipt
WHERE pk IN :pks

-- name: ack
DELETE FROM {jobs} WHERE state = 'leased' AND wake_at > {now} AND id IN :ids AND CONCAT(receipt, id) IN :tags

-- name: extend
UPDATE {jobs} SET wake_at = {now} + :lease
WHERE state = 'leased' AND wake_at > {now} AND id IN :ids AND CONCAT(receipt, id) IN :tags

-- name: still_held
SELECT id, receipt FROM {jobs}
WHERE state = 'leased' AND wake_at > {now} AND id IN :ids AND CONCAT(receipt, id) IN :tags

-- name: nack
-- Each row after its own delay: {delays} holds one "WHEN :tagsN THEN :delaysN" per job of the
-- batch. SET reads the values assigned before it: the receipt is cleared last.
UPDATE {jobs} SET due = {now} + (CASE CONCAT(receipt, id) {delays} END),
    state = CASE WHEN (CASE CONCAT(receipt, id) {delays} END) > 0 THEN 'delayed' ELSE 'ready' END,
    wake_at = CASE WHEN (CASE CONCAT(receipt, id) {delays} END) > 0
                   THEN {now} + (CASE CONCAT(receipt, id) {delays} END) END,
    attempts = attempts - :refund, receipt = NULL
WHERE state = 'leased' AND wake_at > {now} AND id IN :ids AND CONCAT(receipt, id) IN :tags

-- name: take_held
-- Dead-lettering: lock the held rows, then insert_dead and delete_jobs (three statements a batch).
SELECT pk, id, queue, priority, body, attempts, receipt FROM {jobs}
WHERE state = 'leased' AND wake_at > {now} AND id IN :ids AND CONCAT(receipt, id) IN :tags FOR UPDATE

-- name: requeue
INSERT INTO {jobs} (id, queue, priority, state, due, wake_at, attempts, dedup_key, body, enqueued_at)
VALUES (:id, :queue, :priority, 'ready', {now}, NULL, 0, NULL, :body, {now})
ON DUPLICATE KEY UPDATE pk = pk

-- name: save_result
INSERT INTO {results} (job_id, status, data, expires_at) VALUES (:job_id, :status, :data, {now} + :ttl)
ON DUPLICATE KEY UPDATE status = VALUES(status), data = VALUES(data), expires_at = VALUES(expires_at)

-- name: kv_insert
INSERT IGNORE INTO {kv} (k, v, expires_at) VALUES (:k, :v, {now} + :ttl)

-- name: kv_upsert
INSERT INTO {kv} (k, v, expires_at) VALUES (:k, :v, {now} + :ttl)
ON DUPLICATE KEY UPDATE v = VALUES(v), expires_at = VALUES(expires_at)

-- name: kvm_insert
INSERT IGNORE INTO {kv_members} (k, member, expires_at) VALUES (:k, :member, :expires_at)
