"""Dramatiq on Redis and RabbitMQ: ``actor.send()`` one by one, the ``dramatiq`` CLI with one process."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from queuekit_bench.peers import Workload, installed

MODULE = "queuekit_bench.peers.apps.dramatiq_app"


class DramatiqPeer:
    """Dramatiq at its defaults (8 threads), ``--processes 1`` (its default is one per CPU)."""

    name = "dramatiq"
    dist = "dramatiq"
    schemes: tuple[str, ...] = ("redis", "amqp")
    batch = False
    max_jobs: int | None = None

    def __init__(self) -> None:
        self._runs: dict[str, tuple[Any, Any]] = {}

    def missing(self) -> str | None:
        return installed(["dramatiq", "pika", "redis"], "dramatiq")

    def setup(self, work: Workload) -> None:
        from queuekit_bench.peers.apps.dramatiq_app import declare, make_broker

        broker = make_broker(work.url, work.prefix)
        actor = declare(broker, work.queue)
        broker.declare_queue(work.queue)
        self._runs[work.queue] = (broker, actor)

    def enqueue(self, work: Workload, count: int) -> None:
        _, actor = self._runs[work.queue]
        for _ in range(count):
            actor.send()

    def enqueue_batch(self, work: Workload, count: int, size: int) -> None:
        raise NotImplementedError("Dramatiq has no batch enqueue call")

    def command(self, work: Workload) -> Sequence[str]:
        return [sys.executable, "-m", "dramatiq", MODULE, "--processes", "1"]

    def env(self, work: Workload) -> dict[str, str]:
        return {}

    def teardown(self, work: Workload) -> None:
        found = self._runs.pop(work.queue, None)
        if found is None:
            return
        broker, _ = found
        try:
            _drop(broker, work)
        finally:
            broker.close()


def _drop(broker: Any, work: Workload) -> None:
    """Delete the run's queues (RabbitMQ: the queue, its delay and dead-letter queues; Redis: the namespace)."""
    if work.url.startswith(("redis://", "rediss://")):
        client = broker.client
        keys = list(client.scan_iter(match=f"{work.prefix}*", count=1000))
        for first in range(0, len(keys), 500):
            client.delete(*keys[first:first + 500])
        return
    channel = broker.channel
    for name in (work.queue, f"{work.queue}.DQ", f"{work.queue}.XQ"):
        channel.queue_delete(name)
