"""The worker on the in-memory broker: retries, dead letters, limits, shutdown, heartbeats."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import sys
import threading
import time
from collections.abc import Sequence

import pytest

from queuekit import App, ConnectionLost, Delivery, Envelope, JobFailed, JobStatus, QueueStats
from queuekit import worker as worker_module
from queuekit.backends.memory import MemoryBroker
from queuekit.message import Message, Signer, encode
from tests.support import wait_until


def run_burst(app: App, **options: object) -> dict[str, int]:
    worker = app.worker(burst=True, grace=5.0, **options)  # type: ignore[arg-type]
    assert worker.run(install_signals=False) == 0
    return dict(worker.counts)


def test_results_statuses_and_kwargs(memory_app: App) -> None:
    @memory_app.task
    def add(a: int, b: int = 0) -> int:
        return a + b

    job = add.enqueue(args=(2,), kwargs={"b": 3})
    assert job.status() is JobStatus.QUEUED
    run_burst(memory_app)
    assert job.status() is JobStatus.SUCCEEDED
    assert job.result(timeout=1) == 5


def test_retries_with_backoff_then_dead_letter_then_requeue(memory_app: App) -> None:
    calls: list[float] = []
    healed = threading.Event()

    @memory_app.task(retries=2, backoff=0.01)
    def flaky() -> str:
        calls.append(time.monotonic())
        if not healed.is_set():
            raise RuntimeError("boom")
        return "ok"

    job = flaky.delay()
    worker = memory_app.worker(grace=5.0)
    worker.start()
    wait_until(lambda: job.status() is JobStatus.FAILED, what="the job to fail for good")
    assert len(calls) == 3  # first attempt + 2 retries
    assert all(later > earlier for earlier, later in itertools.pairwise(calls))
    with pytest.raises(JobFailed, match="RuntimeError: boom"):
        job.result(timeout=1)
    outcome = job.outcome()
    assert outcome is not None and outcome.traceback and "RuntimeError: boom" in outcome.traceback
    [letter] = memory_app.broker.dead_letters("default")
    assert letter.id == job.id and letter.attempts == 3 and "boom" in letter.reason
    healed.set()
    assert memory_app.broker.requeue_dead("default") == 1
    wait_until(lambda: job.status() is JobStatus.SUCCEEDED, what="the requeued job to succeed")
    assert job.result(timeout=1) == "ok"
    worker.stop()
    assert worker.join(5)


def test_retry_on_limits_which_errors_retry(memory_app: App) -> None:
    attempts: list[int] = []

    @memory_app.task(retries=5, retry_on=(ConnectionError,))
    def picky() -> None:
        attempts.append(1)
        raise ValueError("not worth retrying")

    job = picky.delay()
    run_burst(memory_app)
    assert len(attempts) == 1
    assert job.status() is JobStatus.FAILED


def test_time_limit_interrupts_a_thread(memory_app: App) -> None:
    started = threading.Event()

    @memory_app.task(timeout=0.2)
    def forever() -> None:
        started.set()
        while True:
            time.sleep(0.01)

    job = forever.delay()
    run_burst(memory_app)
    assert started.is_set()
    with pytest.raises(JobFailed, match="TimeLimitExceeded"):
        job.result(timeout=1)


def test_async_tasks_run_on_the_loop_with_limits(memory_app: App) -> None:
    @memory_app.task
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    @memory_app.task(timeout=0.1)
    async def hang() -> None:
        await asyncio.sleep(60)

    ok, slow = double.delay(21), hang.delay()
    run_burst(memory_app)
    assert ok.result(timeout=1) == 42
    with pytest.raises(JobFailed, match="TimeLimitExceeded"):
        slow.result(timeout=1)


def _raw(app: App, body: bytes, queue: str = "default") -> str:
    (job_id,) = app.broker.enqueue([Envelope(f"raw-{len(body)}-{hash(body) & 0xffff}", queue, body)])
    return job_id


def test_malformed_and_unknown_messages_are_dead_lettered_and_work_goes_on(memory_app: App) -> None:
    done: list[int] = []

    @memory_app.task
    def good(i: int) -> None:
        done.append(i)

    modules_before = set(sys.modules)
    for i in range(20):
        good.delay(i)
    _raw(memory_app, b"\xff not utf8")
    _raw(memory_app, b'{"v":1,"id":"a","task":"os.system","args":["echo pwned"]}')
    _raw(memory_app, b"[" * 50_000)
    counts = run_burst(memory_app)
    assert sorted(done) == list(range(20))
    assert counts["dead"] == 3
    reasons = sorted(letter.reason for letter in memory_app.broker.dead_letters("default"))
    assert any("not UTF-8" in r for r in reasons)
    assert any("unknown task 'os.system'" in r for r in reasons)
    assert any("nested too deeply" in r or "not valid JSON" in r for r in reasons)
    assert {m for m in set(sys.modules) - modules_before if m.startswith(("os", "subprocess"))} == set()


def test_bad_signature_is_dead_lettered_unrun() -> None:
    app = App("memory://", secret="right")
    ran: list[str] = []

    @app.task
    def act() -> None:
        ran.append("ran")

    forged = encode(Message(act.name), signer=Signer.from_secret("wrong"))
    _raw(app, forged)
    act.delay()
    run_burst(app)
    assert ran == ["ran"]
    [letter] = app.broker.dead_letters("default")
    assert "signature does not match" in letter.reason


def test_a_job_whose_workers_keep_dying_is_dead_lettered_after_its_attempts(memory_app: App) -> None:
    @memory_app.task(retries=1)
    def crashy() -> None: ...

    job = crashy.delay()
    broker = memory_app.broker
    # retries=1 allows 2 attempts; the app's 2 redeliveries allow 3 reservations whose
    # worker "died" (leases never acked) before the job is set aside unrun.
    for _ in range(3):
        [_lost] = broker.reserve(["default"], 1, lease=0.01)
        wait_until(lambda: broker.stats(["default"])["default"].ready == 1, what="lease expiry")
    run_burst(memory_app)
    assert job.status() is JobStatus.DEAD
    [letter] = broker.dead_letters("default")
    assert "worker lost" in letter.reason and letter.attempts == 4


def test_heartbeats_keep_a_long_task_leased(memory_app: App) -> None:
    release = threading.Event()
    runs: list[int] = []

    @memory_app.task(lease=0.3)
    def long() -> None:
        runs.append(1)
        release.wait(10)

    job = long.delay()
    worker = memory_app.worker(concurrency=2, lease=0.3)
    worker.start()
    wait_until(lambda: runs, what="the task to start")
    # Three lease lengths pass; a competing consumer must never see the job.
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        assert memory_app.broker.reserve(["default"], 1, lease=5, wait=0.05) == []
    release.set()
    wait_until(lambda: job.status() is JobStatus.SUCCEEDED, what="completion")
    assert runs == [1]
    worker.stop()
    assert worker.join(5)


def test_graceful_stop_hands_back_unstarted_jobs_without_spending_attempts(memory_app: App) -> None:
    gate = threading.Event()
    started: list[int] = []

    @memory_app.task
    def slow(i: int) -> None:
        started.append(i)
        gate.wait(10)

    jobs = [slow.delay(i) for i in range(6)]
    worker = memory_app.worker(concurrency=2, prefetch=4, grace=10)
    worker.start()
    wait_until(lambda: len(started) == 2 and worker.in_flight == 6, what="2 running and 4 prefetched")
    worker.stop()
    gate.set()
    assert worker.join(10)
    stats = memory_app.broker.stats(["default"])["default"]
    assert stats.ready == 4 and stats.in_flight == 0
    assert worker.counts["release"] == 4 and worker.counts["ack"] == 2
    again = memory_app.broker.reserve(["default"], 10, lease=5)
    assert {d.id for d in again} == {j.id for j in jobs} - {jobs[i].id for i in started}
    assert all(d.attempts == 1 for d in again)


def test_grace_period_over_hands_running_jobs_back(memory_app: App) -> None:
    gate = threading.Event()

    @memory_app.task
    def stuck() -> None:
        gate.wait(30)

    job = stuck.delay()
    worker = memory_app.worker(concurrency=1, grace=0.2)
    worker.start()
    wait_until(lambda: job.status() is JobStatus.RUNNING, what="the job to run")
    worker.stop()
    assert worker.join(5)
    assert memory_app.broker.stats(["default"])["default"].ready == 1
    gate.set()


def test_priorities_and_delays_through_the_worker(memory_app: App) -> None:
    order: list[str] = []

    @memory_app.task
    def note(tag: str) -> None:
        order.append(tag)

    note.enqueue(args=("later",), delay=0.3)
    for tag, priority in (("low", 0), ("high", 9), ("mid", 5)):
        note.enqueue(args=(tag,), priority=priority)
    run_burst(memory_app, concurrency=1, prefetch=0)
    assert order == ["high", "mid", "low"]  # the delayed one is left for later
    assert memory_app.broker.stats(["default"])["default"].delayed == 1


def test_dedup_key_enqueues_once_while_pending(memory_app: App) -> None:
    @memory_app.task
    def once() -> None: ...

    first = once.enqueue(key="welcome-b")
    second = once.enqueue(key="welcome-b")
    assert first.id == second.id
    assert memory_app.broker.stats(["default"])["default"].ready == 1


def test_unserializable_result_fails_the_job_without_retry(memory_app: App) -> None:
    @memory_app.task(retries=3)
    def gives_object() -> object:
        return object()

    job = gives_object.delay()
    counts = run_burst(memory_app)
    assert counts == {"dead": 1}
    with pytest.raises(JobFailed, match="not JSON-serializable"):
        job.result(timeout=1)


def test_enqueue_many_is_one_batch(memory_app: App) -> None:
    @memory_app.task
    def echo(x: str) -> str:
        return x

    jobs = memory_app.enqueue_many([echo.message("a"), echo.with_options(priority=3).message("b")])
    run_burst(memory_app)
    assert [j.result(timeout=1) for j in jobs] == ["a", "b"]
    assert memory_app.broker.dead_letters("default") == []


class FlakyBroker(MemoryBroker):
    """A memory broker whose reserve and ack fail a few times, as a network would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.reserve_failures = failures
        self.ack_failures = failures

    def reserve(self, queues: Sequence[str], limit: int, lease: float, wait: float = 0.0) -> list[Delivery]:
        if self.reserve_failures:
            self.reserve_failures -= 1
            raise ConnectionLost("connection reset by peer")
        return super().reserve(queues, limit, lease, wait)

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        if self.ack_failures:
            self.ack_failures -= 1
            raise OSError("an unexpected driver error")
        super().ack(deliveries)


def test_worker_outlives_broker_failures() -> None:
    app = App(broker=FlakyBroker(failures=2))

    @app.task
    def one() -> int:
        return 1

    jobs = [one.delay() for _ in range(5)]
    worker = app.worker(concurrency=2)
    worker.start()
    wait_until(lambda: all(job.status() is JobStatus.SUCCEEDED for job in jobs), what="all five to succeed")
    worker.stop()
    assert worker.join(10)
    assert app.broker.stats(["default"])["default"] == QueueStats()


class PausingBroker(MemoryBroker):
    """A memory broker that records stop_consuming and nacks, in order, as a push-based one would."""

    def __init__(self, fail_stop: bool = False, declared: bool = True) -> None:
        super().__init__()
        self.fail_stop = fail_stop
        self.capabilities = dataclasses.replace(self.capabilities, stop_consuming=declared)
        self.calls: list[tuple[str, object]] = []

    def stop_consuming(self, queues: Sequence[str]) -> None:
        self.calls.append(("stop_consuming", tuple(queues)))
        if self.fail_stop:
            raise ConnectionLost("connection reset by peer")

    def nack(self, returns: Sequence[tuple[Delivery, float]], *, count_attempt: bool = True) -> None:
        self.calls.extend(("nack", count_attempt) for _ in returns)
        super().nack(returns, count_attempt=count_attempt)


@pytest.mark.parametrize(("fail_stop", "declared"), [(False, True), (True, True), (False, False)],
                         ids=["stops", "stop-fails", "not-declared"])
def test_graceful_stop_pauses_a_pausable_broker_before_handing_back(fail_stop: bool, declared: bool) -> None:
    broker = PausingBroker(fail_stop, declared)
    app = App(broker=broker)
    gate = threading.Event()
    started: list[int] = []

    @app.task
    def slow(i: int) -> None:
        started.append(i)
        gate.wait(10)

    for i in range(4):
        slow.delay(i)
    worker = app.worker(concurrency=1, prefetch=3, grace=10)
    worker.start()
    wait_until(lambda: len(started) == 1 and worker.in_flight == 4, what="1 running and 3 prefetched")
    assert broker.calls == [], "a running worker never pauses the broker"
    worker.stop()
    wait_until(lambda: worker.counts["release"] == 3, what="the unstarted jobs to be handed back")
    gate.set()
    assert worker.join(10)
    paused = [("stop_consuming", ("default",))] if declared else []  # the capability decides, not the method
    assert broker.calls == paused + [("nack", False)] * 3
    assert broker.stats(["default"])["default"].ready == 3, "the hand-back happens even when the pause fails"


class HeldSettlingBroker(MemoryBroker):
    """A memory broker whose nack and dead_letter calls wait for ``gate`` and record what each call carried."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.nacks: list[list[tuple[Delivery, float]]] = []
        self.letters: list[list[tuple[Delivery, str]]] = []

    def nack(self, returns: Sequence[tuple[Delivery, float]], *, count_attempt: bool = True) -> None:
        self.nacks.append(list(returns))
        self.gate.wait(10)
        super().nack(returns, count_attempt=count_attempt)

    def dead_letter(self, letters: Sequence[tuple[Delivery, str]]) -> None:
        self.letters.append(list(letters))
        self.gate.wait(10)
        super().dead_letter(letters)


@pytest.mark.parametrize("retries", [1, 0], ids=["retried", "dead-lettered"])
def test_failed_jobs_are_settled_in_batches_with_their_own_delays_and_reasons(retries: int) -> None:
    broker = HeldSettlingBroker()
    app = App(broker=broker)

    @app.task(retries=retries, backoff=30.0)
    def fails(i: int) -> None:
        raise ValueError(f"boom {i}")

    jobs = {fails.delay(i).id: i for i in range(20)}
    worker = app.worker(concurrency=4, prefetch=20)
    worker.start()
    calls = broker.nacks if retries else broker.letters
    # The acker's first settling call waits at the gate while the other jobs fail behind it.
    queued = worker._completions.qsize
    wait_until(lambda: sum(map(len, calls)) + queued() == 20, what="every job to fail once")
    broker.gate.set()
    wait_until(lambda: worker.in_flight == 0, what="every failure to be settled")
    worker.stop()
    assert worker.join(10)
    assert len(calls) <= 2, f"20 failures took {len(calls)} broker calls, not one per batch"
    settled = [item for call in calls for item in call]
    assert sorted(jobs[d.id] for d, _ in settled) == list(range(20))
    if retries:
        assert broker.letters == []
        assert all(isinstance(delay, float) and delay > 0 for _, delay in settled), "each retry carries its backoff"
        assert broker.stats(["default"])["default"] == QueueStats(delayed=20)
    else:
        assert broker.nacks == []
        assert all(f"boom {jobs[d.id]}" in reason for d, reason in settled), "each letter carries its own reason"
        assert broker.stats(["default"])["default"] == QueueStats(dead=20)


class RestartingBroker(MemoryBroker):
    """A memory broker whose acks fail while ``down`` is set, as during a broker restart."""

    def __init__(self) -> None:
        super().__init__()
        self.down = threading.Event()
        self.failed_acks = 0

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        if self.down.is_set():
            self.failed_acks += 1
            raise ConnectionLost("connection refused")
        super().ack(deliveries)


def test_an_ack_is_retried_while_the_lease_holds(monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(worker_module, "_RETRY_PAUSE", 0.01)
    caplog.set_level(logging.INFO, logger="queuekit.worker")
    broker = RestartingBroker()
    app = App(broker=broker, lease=60)
    runs: list[int] = []

    @app.task
    def one() -> int:
        runs.append(1)
        return 1

    broker.down.set()
    job = one.delay()
    worker = app.worker(concurrency=1)
    worker.start()
    # More failures than the 5 tries a settlement used to get, well inside the 60 s lease.
    wait_until(lambda: broker.failed_acks >= 12, what="the ack to keep failing")
    broker.down.clear()
    wait_until(lambda: broker.stats(["default"])["default"] == QueueStats(), what="the ack to land")
    worker.stop()
    assert worker.join(10)
    assert job.status() is JobStatus.SUCCEEDED and runs == [1]
    assert "leaving it to lease expiry" not in caplog.text
    assert "ack went through after" in caplog.text
