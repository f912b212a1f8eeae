"""Conformance tests for optional capabilities: dedup keys, results, job state, queue deletion, pausing, browsing."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import pytest

from queuekit.broker import (
    JobBrowser,
    JobStatus,
    Outcome,
    Pausable,
    QueueDeletion,
    QueueStats,
    ResultStore,
    StateReporter,
)
from queuekit.testing.capabilities import requires
from queuekit.testing.harness import HOLD, Harness

_RESULT = {"total": [1, 2.5, "três", None, True]}


def _results(kit: Harness) -> ResultStore:
    assert isinstance(kit.broker, ResultStore), "a broker declaring `results` must implement ResultStore"
    return kit.broker


def _reporter(kit: Harness) -> StateReporter:
    assert isinstance(kit.broker, StateReporter), "a broker declaring `job_state` must implement state()"
    return kit.broker


def _outcome(
    job_id: str,
    status: JobStatus = JobStatus.SUCCEEDED,
    *,
    result: Any = _RESULT,
    error: str | None = None,
    traceback: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Outcome:
    return Outcome(
        job_id, status, result=result, error=error, traceback=traceback, attempts=2,
        finished_at=1_700_000_000.25, extra=dict(extra or {}),
    )


class DedupContract:
    """A dedup key is held while its job is queued or running."""

    @requires("dedup")
    def test_duplicate_key_returns_the_holder_and_stores_nothing(self, kit: Harness) -> None:
        queue = kit.queue()
        key = f"key-{uuid.uuid4().hex}"
        first = kit.envelope(queue, key=key)
        assert kit.broker.enqueue([first]) == [first.id]
        again = kit.envelope(queue, key=key)
        assert kit.broker.enqueue([again]) == [first.id]
        assert kit.stats(queue) == QueueStats(ready=1)

    @requires("dedup")
    def test_duplicate_key_within_one_batch(self, kit: Harness) -> None:
        queue = kit.queue()
        key = f"key-{uuid.uuid4().hex}"
        batch = [kit.envelope(queue, key=key), kit.envelope(queue), kit.envelope(queue, key=key)]
        assert kit.broker.enqueue(batch) == [batch[0].id, batch[1].id, batch[0].id]
        assert kit.stats(queue) == QueueStats(ready=2)

    @requires("dedup")
    def test_key_is_held_while_running_and_released_by_ack(self, kit: Harness) -> None:
        queue = kit.queue()
        key = f"key-{uuid.uuid4().hex}"
        first = kit.envelope(queue, key=key)
        kit.broker.enqueue([first])
        running = kit.take_one(queue)
        assert kit.broker.enqueue([kit.envelope(queue, key=key)]) == [first.id]
        kit.broker.ack([running])
        later = kit.envelope(queue, key=key)
        assert kit.broker.enqueue([later]) == [later.id]
        assert kit.take_one(queue).id == later.id

    @requires("dedup", "delays")
    def test_key_is_held_while_delayed(self, kit: Harness) -> None:
        queue = kit.queue()
        key = f"key-{uuid.uuid4().hex}"
        first = kit.envelope(queue, key=key, delay=HOLD)
        kit.broker.enqueue([first])
        assert kit.broker.enqueue([kit.envelope(queue, key=key)]) == [first.id]
        assert kit.stats(queue) == QueueStats(delayed=1)

    @requires("dedup")
    @pytest.mark.parametrize("ending", ["dead_letter", "purge"])
    def test_key_is_released_when_the_job_leaves(self, kit: Harness, ending: str) -> None:
        queue = kit.queue()
        key = f"key-{uuid.uuid4().hex}"
        kit.broker.enqueue([kit.envelope(queue, key=key)])
        if ending == "dead_letter":
            kit.broker.dead_letter([(kit.take_one(queue), "gave up")])
        else:
            assert kit.broker.purge(queue) == 1
        later = kit.envelope(queue, key=key)
        assert kit.broker.enqueue([later]) == [later.id]


class ResultsContract:
    """Outcomes are kept for their time to live, the newest replacing older ones."""

    @requires("results")
    def test_save_and_load_outcomes(self, kit: Harness) -> None:
        store = _results(kit)
        good = _outcome(uuid.uuid4().hex)
        bad = _outcome(
            uuid.uuid4().hex, JobStatus.FAILED, result=None, error="ValueError: boom",
            traceback="Traceback (most recent call last):\n  ...\nValueError: boom\n", extra={"task": "t.boom"},
        )
        store.save_outcomes([good, bad], HOLD)
        assert store.load_outcome(good.job_id) == good
        assert store.load_outcome(bad.job_id) == bad
        assert store.load_outcome(uuid.uuid4().hex) is None

    @requires("results")
    def test_newer_outcome_replaces_older(self, kit: Harness) -> None:
        store = _results(kit)
        job_id = uuid.uuid4().hex
        store.save_outcomes([_outcome(job_id, JobStatus.FAILED, result=None, error="first")], HOLD)
        newer = _outcome(job_id, result="second")
        store.save_outcomes([newer], HOLD)
        assert store.load_outcome(job_id) == newer

    @requires("results")
    def test_outcome_expires_after_its_ttl(self, kit: Harness) -> None:
        store = _results(kit)
        short, kept = _outcome(uuid.uuid4().hex), _outcome(uuid.uuid4().hex)
        store.save_outcomes([short], kit.short)
        store.save_outcomes([kept], HOLD)
        kit.outlive(kit.short)
        kit.eventually(lambda: store.load_outcome(short.job_id) is None, "the outcome to expire")
        assert store.load_outcome(kept.job_id) == kept


class JobStateContract:
    """``state()`` says where an unfinished job is."""

    @requires("job_state")
    def test_state_follows_the_job(self, kit: Harness) -> None:
        reporter, queue = _reporter(kit), kit.queue()
        [env] = kit.put(queue)
        assert reporter.state(env.id) is JobStatus.QUEUED
        delivery = kit.take_one(queue)
        assert reporter.state(env.id) is JobStatus.RUNNING
        kit.broker.nack([(delivery, 0.0)])
        assert reporter.state(env.id) is JobStatus.QUEUED
        kit.broker.dead_letter([(kit.take_one(queue), "gave up")])
        assert reporter.state(env.id) is JobStatus.DEAD
        kit.broker.requeue_dead(queue)
        assert reporter.state(env.id) is JobStatus.QUEUED
        kit.broker.ack([kit.take_one(queue)])
        assert reporter.state(env.id) is None
        assert reporter.state(uuid.uuid4().hex) is None

    @requires("job_state", "delays")
    def test_delayed_job_is_queued(self, kit: Harness) -> None:
        reporter, queue = _reporter(kit), kit.queue()
        [env] = kit.put(queue, delay=HOLD)
        assert reporter.state(env.id) is JobStatus.QUEUED

    @requires("job_state", "lease_expiry")
    def test_expired_lease_reads_as_queued(self, kit: Harness) -> None:
        reporter, queue = _reporter(kit), kit.queue()
        [env] = kit.put(queue)
        kit.take_one(queue, lease=kit.short)
        kit.outlive(kit.short)
        kit.eventually(lambda: reporter.state(env.id) is JobStatus.QUEUED, "the expired job to read as queued")


class QueueDeletionContract:
    """``delete_queue`` removes a queue's jobs, dead letters and name, and nothing of other queues."""

    @requires("delete_queue")
    def test_delete_queue_removes_jobs_dead_letters_and_the_name(self, kit: Harness) -> None:
        assert isinstance(kit.broker, QueueDeletion), "a broker declaring `delete_queue` must implement it"
        queue, other = kit.queue("gone"), kit.queue("kept")
        kit.put(queue, 3)
        kit.put(other, 1)
        kit.broker.dead_letter([(kit.take_one(queue), "set aside before the delete")])
        assert kit.stats(queue) == QueueStats(ready=2, dead=1)
        kit.broker.delete_queue(queue)
        assert kit.stats(queue) == QueueStats()
        assert kit.broker.dead_letters(queue) == []
        assert queue not in kit.broker.stats()
        assert kit.stats(other) == QueueStats(ready=1)
        again = kit.put(queue, 1)  # the name can be used again
        assert kit.take_one(queue).id == again[0].id

    @requires("delete_queue")
    def test_deleting_an_unknown_queue_does_nothing(self, kit: Harness) -> None:
        assert isinstance(kit.broker, QueueDeletion)
        queue = kit.queue("never-used")
        kit.broker.delete_queue(queue)
        assert kit.stats(queue) == QueueStats()


class PausableContract:
    """``stop_consuming`` returns what was delivered here and never reserved, and keeps what was."""

    @requires("stop_consuming")
    def test_stop_consuming_returns_the_unreserved_unspent_and_keeps_the_reserved(self, kit: Harness) -> None:
        assert isinstance(kit.broker, Pausable), "a broker declaring `stop_consuming` must implement Pausable"
        queue = kit.queue("paused")
        sent = kit.put(queue, 4)
        held = kit.broker.reserve([queue], 2, HOLD, wait=kit.patience)  # blocking, as a worker reserves
        assert held, "a blocking reserve delivers"
        kit.broker.stop_consuming([queue])
        other = kit.open_another()
        rest: list[str] = []

        def the_rest() -> bool:
            got = other.reserve([queue], len(sent), HOLD)
            assert {d.attempts for d in got} <= {1}, "stop_consuming spent an attempt"
            other.ack(got)
            rest.extend(d.id for d in got)
            return len(rest) + len(held) >= len(sent)

        kit.eventually(the_rest, "the jobs this broker did not reserve to be ready for another")
        assert sorted(rest + [d.id for d in held]) == sorted(e.id for e in sent)
        kit.broker.ack(held)  # reserved deliveries can still be settled
        kit.eventually(lambda: kit.stats(queue) == QueueStats(), "the queue to be empty")


class JobBrowserContract:
    """``waiting`` lists ready jobs in reserve order and delayed ones by due time, taking nothing."""

    def _browser(self, kit: Harness) -> JobBrowser:
        assert isinstance(kit.broker, JobBrowser), "a broker declaring `browse` must implement JobBrowser"
        return kit.broker

    @requires("browse")
    def test_ready_jobs_in_reserve_order_with_their_bodies(self, kit: Harness) -> None:
        browser, queue = self._browser(kit), kit.queue("browse")
        low = kit.put(queue, 2)
        high = kit.put(queue, 2, priority=5)
        listed = browser.waiting(queue)
        assert [job.id for job in listed] == [e.id for e in high + low]
        assert [job.body for job in listed] == [e.body for e in high + low]
        assert [job.priority for job in listed] == [5, 5, 0, 0]
        assert {(job.queue, job.attempts, job.due) for job in listed} == {(queue, 0, None)}
        assert [job.id for job in browser.waiting(queue, limit=3)] == [e.id for e in (high + low)[:3]]
        assert kit.stats(queue) == QueueStats(ready=4), "listing took nothing"
        assert [d.id for d in kit.take(queue, 4, limit=4)] == [job.id for job in listed]

    @requires("browse")
    def test_held_jobs_and_other_queues_are_not_listed(self, kit: Harness) -> None:
        browser, queue, other = self._browser(kit), kit.queue("browse"), kit.queue("other")
        sent = kit.put(queue, 2)
        kit.put(other, 1)
        held = kit.take_one(queue)
        assert [job.id for job in browser.waiting(queue)] == [e.id for e in sent if e.id != held.id]
        kit.broker.nack([(held, 0.0)])
        back = {job.id: job for job in browser.waiting(queue)}
        assert set(back) == {e.id for e in sent}
        assert back[held.id].attempts == 1, "a job that was reserved before shows its attempts"
        assert browser.waiting(kit.queue("never-used")) == []
        assert browser.waiting(queue, delayed=True) == []

    @requires("browse", "delays")
    def test_delayed_jobs_soonest_first_with_due_times(self, kit: Harness) -> None:
        browser, queue = self._browser(kit), kit.queue("browse-later")
        later = kit.put(queue, 1, delay=HOLD * 2)
        sooner = kit.put(queue, 1, delay=HOLD)
        ready = kit.put(queue, 1)
        listed = browser.waiting(queue, delayed=True)
        assert [job.id for job in listed] == [sooner[0].id, later[0].id]
        first, second = (job.due for job in listed)
        assert first is not None and second is not None
        assert second > first, "the later job is due later"
        assert abs((second - first) - HOLD) < 60, "due times are the delays apart"
        assert [job.id for job in browser.waiting(queue)] == [ready[0].id]
        assert kit.stats(queue) == QueueStats(ready=1, delayed=2)
