"""The failure workload stops waiting only when no job can still finish.

A RabbitMQ client counts in flight only what its own process holds, so the harness alone
sees a job a live worker is running as gone: the wait ended and counted it as lost (a
bench run reported "lost 4 of 2000" whose four jobs finished 20 ms later).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from queuekit_bench.agent import Reply
from queuekit_bench.cleanup import Cleanup
from queuekit_bench.context import BackendRun
from queuekit_bench.ledger import LedgerWriter, account, read_ledger
from queuekit_bench.progress import Progress
from queuekit_bench.scenarios.failure import Settled, _start
from queuekit_bench.settings import QUICK
from queuekit_bench.targets import Target

from tests.support import wait_until


class _Harness:
    def __init__(self) -> None:
        self.empty = True

    def settled(self, queue: str) -> bool:
        return self.empty


class _Worker:
    """An agent that answers ``stats`` with what it is told to hold."""

    name = "fake"
    pid = 1

    def __init__(self) -> None:
        self.in_flight = 0

    def submit(self, command: Mapping[str, Any]) -> Future[Reply]:
        assert command == {"op": "stats", "queue": "q"}
        future: Future[Reply] = Future()
        future.set_result({"ready": 0, "delayed": 0, "in_flight": self.in_flight, "dead": 0})
        return future

    def close(self) -> None:
        pass


def test_a_job_held_by_a_live_worker_keeps_the_wait_going(tmp_path: Path) -> None:
    harness, worker = _Harness(), _Worker()
    worker.in_flight = 1
    settled = Settled(harness, "q", tmp_path, [worker])
    assert [settled() for _ in range(3)] == [False, False, False]
    worker.in_flight = 0
    assert [settled(), settled()] == [False, True]  # nothing anywhere, twice in a row


def test_a_finish_between_two_idle_looks_starts_the_count_again(tmp_path: Path) -> None:
    settled = Settled(_Harness(), "q", tmp_path, [_Worker()])
    assert settled() is False
    writer = LedgerWriter(tmp_path / "worker-1.ledger")
    writer.done("p:0")  # something finished: what held it may have held more
    writer.close()
    assert settled() is False
    assert settled() is True


def test_what_the_harness_sees_ready_keeps_the_wait_going(tmp_path: Path) -> None:
    harness = _Harness()
    harness.empty = False
    settled = Settled(harness, "q", tmp_path, [_Worker()])
    assert not any(settled() for _ in range(3))


def test_rabbitmq_a_running_job_is_not_taken_for_lost(tmp_path: Path) -> None:
    from tests.rabbitmq.servers import shared_url_or_skip

    url = shared_url_or_skip()
    cleanup = Cleanup()
    try:
        ctx = BackendRun(Target("rabbitmq", url), QUICK, workdir=tmp_path, run_id=uuid.uuid4().hex[:6],
                         cleanup=cleanup, progress=Progress(quiet=True))
        queue, folder = ctx.queue("failure"), ctx.folder("failure")
        worker = _start(ctx, "victim", queue, folder)
        settled = Settled(ctx, queue, folder, [worker])
        assert settled.idle()  # an idle worker and an empty queue: nothing can come
        ctx.producer.produce({"queue": queue, "count": 1, "mode": "batch", "batch": 1, "tracked": True,
                              "producer": "f", "sleep_ms": [600_000.0], "ledger": str(folder / "producer.ledger")})
        wait_until(lambda: read_ledger(folder).starts, timeout=60.0, what="the job to start")
        assert ctx.settled(queue)  # RabbitMQ: the harness does not see what another process holds
        assert account(read_ledger(folder)).lost == 1  # so a wait that trusted it reported a loss
        assert not settled.idle()
        assert not any(settled() for _ in range(3))
        worker.kill()  # the job goes back to the queue, where the harness sees it
        wait_until(lambda: not ctx.settled(queue), timeout=60.0, what="the killed worker's job to be requeued")
        assert not settled()
    finally:
        cleanup.run()
