"""Conformance tests: middleware headers travel through the broker, and a raising middleware loses nothing."""

from __future__ import annotations

import threading
from typing import Any

from queuekit.app import App
from queuekit.broker import QueueStats
from queuekit.execution import Prepared, current_job
from queuekit.message import Message
from queuekit.middleware import Middleware, RunOutcome, set_header
from queuekit.testing.harness import Harness


class _Stamp(Middleware):
    """Adds a header on enqueue and records, per job, the headers the worker saw and each attempt's fate."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[str, Any]] = {}
        self.fates: list[tuple[str, RunOutcome]] = []
        self.lock = threading.Lock()

    def before_enqueue(self, message: Message) -> None:
        set_header(message, "x-tenant", f"tenant-{message.args[0]}")
        set_header(message, "x-unicode", "h\u00e9 \u2603")

    def before_run(self, job: Prepared) -> None:
        assert current_job() is job
        with self.lock:
            self.seen[job.id] = dict(job.message.headers)

    def after_run(self, job: Prepared, outcome: RunOutcome) -> None:
        with self.lock:
            self.fates.append((job.id, outcome))


class _Broken(Middleware):
    """Raises from every hook."""

    def before_enqueue(self, message: Message) -> None:
        raise RuntimeError("broken before_enqueue")

    def after_enqueue(self, message: Message, job_id: str) -> None:
        raise RuntimeError("broken after_enqueue")

    def before_run(self, job: Prepared) -> None:
        raise RuntimeError("broken before_run")

    def after_run(self, job: Prepared, outcome: RunOutcome) -> None:
        raise RuntimeError("broken after_run")


class MiddlewareContract:
    """Headers a middleware adds reach the worker intact on this broker; a broken middleware costs nothing."""

    def test_middleware_headers_round_trip(self, kit: Harness) -> None:
        queue = kit.queue("headers")
        stamp = _Stamp()
        app = App(broker=kit.broker, url=f"conformance://{type(kit.broker).__name__}", middleware=[stamp])

        @app.task(queue=queue, name=f"{queue}.echo")
        def echo(n: int) -> int:
            return n

        jobs = app.enqueue_many([echo.message(i) for i in range(5)])
        single = echo.enqueue([7], headers={"x-caller": "test"})
        assert app.worker(queues=[queue], concurrency=2, burst=True).run(install_signals=False) == 0
        for index, job in enumerate(jobs):
            assert stamp.seen[job.id] == {"x-tenant": f"tenant-{index}", "x-unicode": "h\u00e9 \u2603"}
        assert stamp.seen[single.id] == {"x-caller": "test", "x-tenant": "tenant-7", "x-unicode": "h\u00e9 \u2603"}
        assert sorted(stamp.fates) == sorted((job.id, "succeeded") for job in [*jobs, single])

    def test_a_raising_middleware_loses_nothing(self, kit: Harness) -> None:
        queue = kit.queue("broken")
        app = App(broker=kit.broker, url=f"conformance://{type(kit.broker).__name__}", middleware=[_Broken()])
        ran: list[int] = []
        lock = threading.Lock()

        @app.task(queue=queue, name=f"{queue}.record")
        def record(n: int) -> None:
            with lock:
                ran.append(n)

        app.enqueue_many([record.message(i) for i in range(10)])
        worker = app.worker(queues=[queue], concurrency=2, burst=True)
        assert worker.run(install_signals=False) == 0
        assert sorted(ran) == list(range(10))
        assert worker.counts["ack"] == 10
        assert kit.stats(queue) == QueueStats()
