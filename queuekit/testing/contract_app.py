"""Conformance test: an App and a burst Worker running real tasks on the broker under test."""

from __future__ import annotations

from queuekit.app import App
from queuekit.broker import JobStatus, QueueStats
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
