"""Issue 12: the broker's server restarts under a draining worker and under a producer.

The module starts its own PostgreSQL cluster and MariaDB server (tests/sql/clusters.py:
fresh data directory, spare port, socket in its own folder) and RabbitMQ node
(tests/rabbitmq/node.py: own node name, ports and mnesia; durable queues), once each, and
restarts them: ``pg_ctl restart -m fast``, a clean MariaDB shutdown and start,
``rabbitmqctl stop_app`` and ``start_app``. The shared servers are never touched.
(Redis restarts: tests/redis/test_faults.py and test_durability.py.) The ledger outside
the broker is the truth:

* mid-drain: nothing accepted is lost, duplicates stay within what the worker held
  (its concurrency plus its prefetch), and the worker finishes the drain by itself;
* mid-enqueue: every ``delay()`` that returned runs, and every one that raised raised
  :class:`queuekit.ConnectionLost` (a job whose enqueue raised may or may not run).

Each test prints one line of figures (run pytest with ``-s`` to see them).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.ledger import account
from tests.faults.rig import Rig
from tests.faults.targets import Target, unique_queue
from tests.rabbitmq.node import PrivateRabbit
from tests.sql.clusters import PrivateMariaDB, PrivatePostgres
from tests.sql.servers import unique_prefix, with_prefix
from tests.support import wait_until

pytestmark = [pytest.mark.service, pytest.mark.slow]

JOBS = 600
CONCURRENCY, PREFETCH = 4, 4
WORKER_OPTIONS = ("--concurrency", str(CONCURRENCY), "--prefetch", str(PREFETCH))
Server = PrivatePostgres | PrivateMariaDB | PrivateRabbit
SERVERS: dict[str, type[Server]] = {"postgresql": PrivatePostgres, "mariadb": PrivateMariaDB, "rabbitmq": PrivateRabbit}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A private server of each kind, started once for this module and deleted after it."""
    made = SERVERS[request.param]()
    try:
        made.start()
        yield made
    finally:
        made.stop()


@pytest.fixture
def rig(server: Server, tmp_path: Path) -> Iterator[Rig]:
    """A rig on the private server, with tables of this test's own (RabbitMQ: results in a SQLite file)."""
    if server.kind == "rabbitmq":
        target = Target(server.kind, server.url, unique_queue(), results=f"sqlite:///{tmp_path / 'results.db'}")
    else:
        target = Target(server.kind, with_prefix(server.url, unique_prefix()), unique_queue())
    made = Rig(target, tmp_path)
    yield made
    made.close()


def test_a_restart_mid_drain_loses_nothing_and_the_worker_recovers_by_itself(server: Server, rig: Rig) -> None:
    rig.enqueue(rig.message("faults.work", f"job{n:04d}", 2.0) for n in range(JOBS))
    worker = rig.worker(*WORKER_OPTIONS)
    wait_until(lambda: rig.done() >= JOBS // 3, 120, f"{JOBS // 3} jobs done before the restart")
    before = rig.done()
    began = time.monotonic()
    server.restart()
    wait_until(lambda: rig.done() == JOBS, 120, "the worker to finish the drain after the restart by itself")
    recovered = time.monotonic() - began
    assert before < JOBS, f"the restart must land mid-drain: {before} of {JOBS} done before it"
    rig.check_drain(worker, JOBS, f"{rig.target.kind} restart mid-drain", CONCURRENCY + PREFETCH,
                    done_before_restart=before, restart_to_drained_s=f"{recovered:.1f}")


def test_a_restart_mid_enqueue_keeps_every_accepted_job_and_raises_only_connection_lost(
    server: Server, rig: Rig
) -> None:
    worker = rig.worker(*WORKER_OPTIONS)
    producer = rig.producer()
    # A worker that cannot reach the server at startup exits (a supervisor restarts it): restart
    # only once it runs, so that the restart tests recovery, not the start-up check.
    wait_until(lambda: rig.started(worker) or worker.poll() is not None, 120, "the worker to start")
    wait_until(lambda: len(rig.ledger().accepted) >= 100, 120, "100 jobs accepted before the restart")
    before = len(rig.ledger().accepted)
    server.restart()
    wait_until(lambda: len(rig.ledger().accepted) >= before + 100, 120, "100 more accepted after the restart")
    rig.stop_producing()
    assert producer.wait(60) == 0, rig.log(producer)[-3000:]
    began = time.monotonic()
    wait_until(lambda: rig.ledger().accepted <= set(rig.ledger().done_counts()), 120, "every accepted job to run")
    drained = time.monotonic() - began

    ledger = rig.ledger()
    verdict = account(ledger)
    ran_unaccepted = set(ledger.done_counts()) - ledger.accepted
    kinds = sorted(set(ledger.raised.values()))
    figures = (f"[{rig.target.kind} restart mid-enqueue] {verdict.summary()} raised={len(ledger.raised)} "
               f"{kinds} raised_but_ran={len(ran_unaccepted)} drain_s={drained:.1f}")
    print(f"\n{figures}")
    assert verdict.lost == 0, f"{figures}; lost e.g. {verdict.lost_keys}"
    assert kinds in ([], ["ConnectionLost"]), figures
    assert ran_unaccepted <= set(ledger.raised), f"a job ran that was never enqueued; {figures}"
    assert verdict.duplicated <= CONCURRENCY + PREFETCH, figures
    assert rig.stop([worker]) == [0], rig.log(worker)[-3000:]
    assert "Traceback" not in rig.all_logs(), rig.all_logs()[-3000:]
