"""Conformance tests: consumers on several threads never share a held job."""

from __future__ import annotations

import threading

from queuekit.broker import Delivery, QueueStats
from queuekit.testing.harness import HOLD, Harness

THREADS = 4
JOBS = 60


class ConcurrencyContract:
    """Concurrent reserves hand each job to exactly one consumer while its lease holds."""

    def test_concurrent_reserves_never_share_a_job(self, kit: Harness) -> None:
        queue = kit.queue()
        sent = [kit.envelope(queue) for _ in range(JOBS)]
        kit.broker.enqueue(sent)
        start = threading.Barrier(THREADS)
        taken: list[list[Delivery]] = [[] for _ in range(THREADS)]
        errors: list[BaseException] = []

        def consume(mine: list[Delivery]) -> None:
            try:
                start.wait()
                while batch := kit.broker.reserve([queue], 3, HOLD):
                    mine.extend(batch)
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=consume, args=(mine,), daemon=True) for mine in taken]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(kit.patience)
        assert not errors, f"a consumer thread failed: {errors[0]!r}"
        assert not any(thread.is_alive() for thread in threads), "a consumer thread did not finish"
        got = [d.id for mine in taken for d in mine]
        rest = kit.take(queue, JOBS - len(got), limit=10) if len(got) < JOBS else []
        ids = got + [d.id for d in rest]
        assert len(ids) == len(set(ids)), "a job was handed to two consumers while its lease held"
        assert sorted(ids) == sorted(env.id for env in sent)
        assert kit.stats(queue) == QueueStats(in_flight=JOBS)

    def test_concurrent_producers_lose_nothing(self, kit: Harness) -> None:
        queue = kit.queue()
        sent: list[list[str]] = [[] for _ in range(THREADS)]

        def produce(mine: list[str]) -> None:
            for _ in range(JOBS // THREADS):
                env = kit.envelope(queue)
                mine.extend(kit.broker.enqueue([env]))

        threads = [threading.Thread(target=produce, args=(mine,), daemon=True) for mine in sent]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(kit.patience)
        expected = sorted(job_id for mine in sent for job_id in mine)
        assert len(expected) == JOBS
        assert sorted(d.id for d in kit.take(queue, JOBS, limit=10)) == expected
