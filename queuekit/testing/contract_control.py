"""Conformance tests for what the core builds on a broker's shared state: cancel, progress,
rate limits and the schedules' one-enqueue-per-tick, through an App and a real Worker.

They run on every broker: one without ``key_value`` uses its result store's (a separate
in-process one here when it has none), as an application configured with ``results=`` would.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid

from queuekit.broker import JobStatus, QueueStats
from queuekit.execution import current_job
from queuekit.scheduler import LEADER_KEY, Scheduler
from queuekit.testing.apps import app_for, running
from queuekit.testing.harness import HOLD, Harness


class ControlContract:
    """Cancel, progress and rate limits keep their promises on this broker."""

    def test_cancel_a_queued_job_it_never_runs(self, kit: Harness) -> None:
        queue = kit.queue("cancel")
        app = app_for(kit, queue)
        ran: list[int] = []

        @app.task(name=f"{queue}.record")
        def record(n: int) -> int:
            ran.append(n)
            return n

        doomed, kept = record.delay(1), record.delay(2)
        later = record.enqueue((3,), delay=HOLD) if kit.broker.capabilities.delays else None
        assert doomed.cancel() is True
        assert later is None or later.cancel() is True
        assert doomed.status() is JobStatus.CANCELLED
        with running(app, queue):
            assert kept.result(timeout=kit.patience) == 2
            kit.eventually(lambda: kit.stats(queue).ready == 0 and kit.stats(queue).in_flight == 0, "queue drained")
        assert ran == [2]
        assert doomed.status() is JobStatus.CANCELLED
        assert later is None or later.status() is JobStatus.CANCELLED
        assert kit.stats(queue).dead == 0

    def test_cancel_a_running_job_it_sees_the_flag_and_is_not_retried(self, kit: Harness) -> None:
        queue = kit.queue("cancel-running")
        app = app_for(kit, queue)
        started = threading.Event()
        runs: list[int] = []

        @app.task(name=f"{queue}.loop", retries=3)
        def loop() -> str:
            job = current_job()
            assert job is not None
            runs.append(job.delivery.attempts)
            started.set()
            deadline = time.monotonic() + 60
            while not job.cancelled:
                if time.monotonic() > deadline:
                    return "never saw the flag"
                time.sleep(0.01)
            raise RuntimeError("stopped on cancel")  # not retried: it was cancelled

        with running(app, queue):
            job = loop.delay()
            assert started.wait(kit.patience)
            assert job.cancel() is True
            kit.eventually(lambda: kit.stats(queue) == QueueStats(), "the cancelled job settled")
        outcome = job.outcome()
        assert outcome is not None and outcome.status is JobStatus.CANCELLED
        assert outcome.error is not None and "stopped on cancel" in outcome.error
        assert runs == [1]

    def test_cancel_a_finished_job_changes_nothing(self, kit: Harness) -> None:
        queue = kit.queue("cancel-done")
        app = app_for(kit, queue)

        @app.task(name=f"{queue}.add")
        def add(x: int, y: int) -> int:
            return x + y

        job = add.delay(2, 3)
        assert app.worker(queues=[queue], concurrency=1, burst=True).run(install_signals=False) == 0
        assert job.result(timeout=kit.patience) == 5
        assert job.cancel() is False
        assert job.status() is JobStatus.SUCCEEDED
        assert app.job(uuid.uuid4().hex).cancel() is False

    def test_cancel_racing_the_end_of_the_job_keeps_the_truth(self, kit: Harness) -> None:
        queue = kit.queue("cancel-race")
        app = app_for(kit, queue)
        runs: list[int] = []

        @app.task(name=f"{queue}.quick", retries=2)
        def quick(n: int) -> int:
            runs.append(n)
            return n

        with running(app, queue):
            jobs = [quick.delay(n) for n in range(20)]
            answers = [job.cancel() for job in jobs]
            kit.eventually(lambda: all(job.status().finished for job in jobs), "every job settled")
        for n, (job, answer) in enumerate(zip(jobs, answers, strict=True)):
            status = job.status()
            if not answer:
                assert status is JobStatus.SUCCEEDED, f"cancel() said it was too late, so job {n} must have run"
                assert job.result(timeout=kit.patience) == n
            elif status is JobStatus.SUCCEEDED:
                assert job.result(timeout=kit.patience) == n  # finished before anyone saw the flag
            else:
                assert status is JobStatus.CANCELLED
        assert sorted(runs) == sorted(set(runs)), "no job ran twice"
        assert kit.stats(queue).dead == 0

    def test_progress_while_running_and_after(self, kit: Harness) -> None:
        queue = kit.queue("progress")
        app = app_for(kit, queue)
        reported, release = threading.Event(), threading.Event()

        @app.task(name=f"{queue}.work")
        def work() -> str:
            job = current_job()
            assert job is not None
            job.progress(0.25, note="a quarter")
            job.progress(0.5, note="half")
            reported.set()
            assert release.wait(60)
            return "done"

        with running(app, queue):
            job = work.delay()
            assert reported.wait(kit.patience)
            seen = job.progress()
            assert seen is not None and (seen.fraction, seen.note) == (0.5, "half")
            release.set()
            assert job.result(timeout=kit.patience) == "done"
        final = job.progress()
        assert final is not None and (final.fraction, final.note) == (0.5, "half")
        assert app.state.store.kv_get(f"progress:{job.id}") is None

    def test_rate_limited_starts_are_spaced_and_nothing_fails(self, kit: Harness) -> None:
        queue = kit.queue("rate")
        app = app_for(kit, queue)
        starts: list[tuple[float, float]] = []
        lock = threading.Lock()

        @app.task(name=f"{queue}.call", rate_limit="20/s")
        def call(n: int) -> int:
            job = current_job()
            assert job is not None and job.slot is not None
            with lock:
                starts.append((job.slot, time.time()))
            return n

        began = time.time()
        jobs = app.enqueue_many([call.message(i) for i in range(12)])
        with running(app, queue):
            assert sorted(job.result(timeout=kit.patience) for job in jobs) == list(range(12))
        slots = sorted(slot for slot, _ in starts)
        # 20/s: the booked starts are 50 ms apart (a late thread wake-up cannot bunch them), and no
        # job started before its slot; so the n-th start is at least n intervals after the enqueue.
        assert all(b - a >= 0.05 - 1e-6 for a, b in itertools.pairwise(slots)), slots
        assert all(at >= slot - 1e-3 for slot, at in starts)
        assert all(at >= began + n * 0.05 - 0.01 for n, at in enumerate(sorted(at for _, at in starts)))
        assert kit.stats(queue).dead == 0

    def test_each_tick_is_enqueued_once_even_with_two_leaders(self, kit: Harness) -> None:
        queue = kit.queue("sched")
        app = app_for(kit, queue)
        name = f"{queue}-every"

        @app.periodic(every=10, name=name, queue=queue)
        def tick() -> None:
            return None

        now = [1_000_000_000.0]
        first, second = (Scheduler(app, owner=f"{who}-{uuid.uuid4().hex}", clock=lambda: now[0]) for who in "ab")
        app.state.store.kv_delete(LEADER_KEY)
        first.step()  # leads; first sight of the schedule: remembers the tick just passed
        second.step()
        assert (first.leading, second.leading) == (True, False)
        assert kit.stats(queue).ready == 0
        now[0] += 35  # three ticks missed: catch_up="latest" enqueues one
        first.step()
        second.step()
        assert kit.stats(queue).ready == 1
        second.leading, second._renew_at = True, float("inf")  # a handover: both think they lead
        now[0] += 10
        first.step()
        second.step()
        assert kit.stats(queue).ready == 2
        first.resign()
        app.state.store.kv_delete(LEADER_KEY)
