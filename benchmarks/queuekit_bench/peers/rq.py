"""RQ on Redis: ``queue.enqueue`` one by one, ``enqueue_many`` in a pipeline, ``rq worker`` at its defaults.

RQ's default worker forks a work horse per job: that is what ``rq worker`` runs, so it is
what is measured.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from queuekit_bench.peers import Workload, installed

FUNCTION = "queuekit_bench.peers.apps.rq_app.ping"


class RqPeer:
    """RQ at its defaults; the URL reaches the worker as ``RQ_REDIS_URL``, never on its command line."""

    name = "rq"
    dist = "rq"
    schemes: tuple[str, ...] = ("redis",)
    batch = True
    # RQ forks a work horse per job: about 60 jobs/s on the 2-core project machine, so 10,000 jobs
    # would take three minutes a run; the per-job cost is steady, and 1,000 give the same rate.
    max_jobs: int | None = 1000

    def __init__(self) -> None:
        self._runs: dict[str, tuple[Any, Any, list[str]]] = {}

    def missing(self) -> str | None:
        return installed(["rq", "redis"], "rq")

    def setup(self, work: Workload) -> None:
        import redis
        from rq import Queue

        client = redis.Redis.from_url(work.url)
        self._runs[work.queue] = (client, Queue(work.queue, connection=client), [])

    def enqueue(self, work: Workload, count: int) -> None:
        _, queue, ids = self._runs[work.queue]
        for _ in range(count):
            ids.append(queue.enqueue(FUNCTION).id)

    def enqueue_batch(self, work: Workload, count: int, size: int) -> None:
        from rq import Queue

        client, queue, ids = self._runs[work.queue]
        for first in range(0, count, size):
            with client.pipeline() as pipe:
                jobs = queue.enqueue_many([Queue.prepare_data(FUNCTION) for _ in range(min(size, count - first))],
                                          pipeline=pipe)
                pipe.execute()
            ids.extend(job.id for job in jobs)

    def command(self, work: Workload) -> Sequence[str]:
        return [sys.executable, "-m", "rq.cli", "worker", work.queue]

    def env(self, work: Workload) -> dict[str, str]:
        return {"RQ_REDIS_URL": work.url}

    def teardown(self, work: Workload) -> None:
        found = self._runs.pop(work.queue, None)
        if found is None:
            return
        client, _, ids = found
        try:
            keys = [k for job in ids for k in (f"rq:job:{job}", f"rq:results:{job}")]
            keys += list(client.scan_iter(match=f"rq:*{work.queue}*", count=1000))
            for first in range(0, len(keys), 500):
                client.delete(*keys[first:first + 500])
            client.srem("rq:queues", f"rq:queue:{work.queue}")  # RQ's set of known queues
        finally:
            client.close()
