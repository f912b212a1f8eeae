"""queuekit as one more framework of the peer workload (``queuekit worker`` at its defaults)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from queuekit import App
from queuekit.broker import QueueDeletion
from queuekit_bench.peers import Workload
from queuekit_bench.peers.apps.queuekit_app import TASK, build

APP_SPEC = "queuekit_bench.peers.apps.queuekit_app:app"


class QueuekitPeer:
    """``task.delay()`` one by one, ``app.enqueue_many`` in batches, ``queuekit worker`` with ``processes``."""

    name = "queuekit"
    dist = "queuekit"
    schemes: tuple[str, ...] = ("sqlite", "redis", "rediss", "amqp", "amqps", "postgresql", "postgres", "mysql",
                                "mariadb")
    batch = True
    max_jobs: int | None = None

    def __init__(self, processes: int = 1) -> None:
        self.processes = processes
        self._apps: dict[str, App] = {}

    def missing(self) -> str | None:
        return None

    def _app(self, work: Workload) -> App:
        app = self._apps.get(work.queue)
        if app is None:
            app = self._apps[work.queue] = build(work.url, work.queue)
        return app

    def setup(self, work: Workload) -> None:
        _ = self._app(work).broker  # connect outside the timing

    def enqueue(self, work: Workload, count: int) -> None:
        task = self._app(work).tasks[TASK]
        for _ in range(count):
            task.delay()

    def enqueue_batch(self, work: Workload, count: int, size: int) -> None:
        app = self._app(work)
        task = app.tasks[TASK]
        for first in range(0, count, size):
            app.enqueue_many([task.message() for _ in range(min(size, count - first))])

    def command(self, work: Workload) -> Sequence[str]:
        extra = ["--processes", str(self.processes)] if self.processes != 1 else []
        return [sys.executable, "-m", "queuekit", "worker", *extra, APP_SPEC]

    def env(self, work: Workload) -> dict[str, str]:
        return {}

    def teardown(self, work: Workload) -> None:
        app = self._apps.pop(work.queue, None)
        if app is None:
            return
        try:
            broker = app.broker
            if broker.capabilities.delete_queue and isinstance(broker, QueueDeletion):
                broker.delete_queue(work.queue)
            else:
                broker.purge(work.queue)
                broker.purge_dead(work.queue)
        finally:
            app.close()
