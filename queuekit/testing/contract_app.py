"""Conformance test: an App and a burst Worker running real tasks on the broker under test."""

from __future__ import annotations

import uuid

import pytest

from queuekit.app import App
from queuekit.broker import JobStatus, QueueStats
from queuekit.errors import ResultUnavailable
from queuekit.testing.harness import Harness


class AppContract:
    """The whole stack on this broker: enqueue through tasks, run a worker, read results."""

    def test_app_and_burst_worker_end_to_end(self, kit: Harness) -> None:
        queue = kit.queue("app")
        app = App(broker=kit.broker, url=f"conformance://{type(kit.broker).__name__}")

        @app.task(queue=queue, name=f"{queue}.add")
        def add(x: int, y: int) -> int:
            return x + y

        @app.task(queue=queue, name=f"{queue}.boom")
        def boom() -> None:
            raise ValueError("boom")

        jobs = app.enqueue_many([add.message(i, i) for i in range(20)])
        single = add.delay(40, 2)
        failing = boom.delay()
        worker = app.worker(queues=[queue], concurrency=2, burst=True)
        assert worker.run(install_signals=False) == 0
        assert worker.counts["ack"] == 21
        assert kit.stats(queue) == QueueStats(dead=1)
        [letter] = kit.broker.dead_letters(queue)
        assert letter.id == failing.id
        assert "ValueError: boom" in letter.reason
        if app.results is not None:
            assert [job.result(timeout=kit.patience) for job in jobs] == [2 * i for i in range(20)]
            assert single.result(timeout=kit.patience) == 42
            assert failing.status() is JobStatus.FAILED

    def test_job_status_is_the_truth_or_an_error_naming_the_fix(self, kit: Harness) -> None:
        """An unknown id is ``unknown``, never ``queued``; a broker that cannot tell says so.

        Without ``job_state`` and results the status cannot be known: it raises, naming
        ``results=``. With a result store (the broker's own or a separate one) an unknown
        id reads ``unknown`` and an enqueued job ``queued`` (with ``job_state``) or
        ``pending`` (without: the app's enqueue record), until its outcome replaces it.
        """
        queue = kit.queue("status")
        label = f"conformance://{type(kit.broker).__name__}"
        caps = kit.broker.capabilities
        bare = App(broker=kit.broker, url=label, default_queue=queue)
        if bare.results is None and not caps.job_state:
            with pytest.raises(ResultUnavailable, match=r"results="):
                bare.job(uuid.uuid4().hex).status()
        separate = None if bare.results is not None else f"memory://conformance-results-{uuid.uuid4().hex}"
        app = App(broker=kit.broker, url=label, results=separate, default_queue=queue)

        @app.task(name=f"{queue}.add")
        def add(x: int, y: int) -> int:
            return x + y

        unknown = app.job(uuid.uuid4().hex)
        assert unknown.status() is JobStatus.UNKNOWN
        job = add.delay(1, 2)
        assert job.status() is (JobStatus.QUEUED if caps.job_state else JobStatus.PENDING)
        assert app.worker(queues=[queue], concurrency=1, burst=True).run(install_signals=False) == 0
        assert job.status() is JobStatus.SUCCEEDED
        assert job.result(timeout=kit.patience) == 3
        assert unknown.status() is JobStatus.UNKNOWN
