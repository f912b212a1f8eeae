"""Real worker processes on the shared RabbitMQ: SIGKILL, server-side connection cuts, volume.

The server is never restarted: connections are cut from its side with
``rabbitmqctl close_connection``, which is what a restart or a network reset does to a
client. Every test uses a queue of its own and deletes it afterwards.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rabbitmq.servers import (
    close_connections,
    connections_from,
    delete_queues,
    rabbitmqctl_or_skip,
    shared_url_or_skip,
)
from tests.support import wait_until

pytestmark = pytest.mark.service

HERE = Path(__file__).parent
APP = "chaos_app:app"


class Rig:
    """A queue, a ledger and the processes of one test."""

    def __init__(self, tmp: Path, url: str) -> None:
        self.queue = f"qk-faults-{uuid.uuid4().hex[:10]}"
        self.ledger = tmp / "ledger.txt"
        self.log = tmp / "processes.log"
        self.vars = {
            **os.environ,
            "QUEUEKIT_BROKER_URL": url,
            "QK_QUEUE": self.queue,
            "QK_LEDGER": str(self.ledger),
            "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parents[1])]),
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def spawn(self, *args: str, **extra: str) -> subprocess.Popen[bytes]:
        """Start a process of ours (stopped by its PID at teardown)."""
        with self.log.open("ab") as out:
            proc = subprocess.Popen(args, env={**self.vars, **extra}, cwd=HERE, stdout=out, stderr=subprocess.STDOUT)
        self.processes.append(proc)
        return proc

    def worker(self, *options: str, **extra: str) -> subprocess.Popen[bytes]:
        return self.spawn(sys.executable, "-m", "queuekit", "worker", APP, *options, **extra)

    def produce(self, first: int, count: int) -> subprocess.Popen[bytes]:
        return self.spawn(sys.executable, "-c", f"import chaos_app; chaos_app.produce({first}, {count})")

    def enqueue(self, count: int) -> None:
        assert self.produce(0, count).wait(120) == 0, self.log.read_text()[-2000:]

    def events(self) -> list[tuple[str, int, int]]:
        if not self.ledger.exists():
            return []
        rows = [line.split() for line in self.ledger.read_text().splitlines()]
        # A torn last line (a write in progress) is skipped.
        return [(row[0], int(row[1]), int(row[2])) for row in rows if len(row) == 3 and row[2].isdigit()]

    def count(self, event: str) -> collections.Counter[int]:
        return collections.Counter(item for name, item, _pid in self.events() if name == event)

    def stop_all(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    url = shared_url_or_skip()
    made = Rig(tmp_path, url)
    yield made
    made.stop_all()
    delete_queues([made.queue])


def unacked(queue: str) -> int:
    """Deliveries RabbitMQ has handed out for ``queue`` and not seen acked."""
    ctl = rabbitmqctl_or_skip()
    out = subprocess.run([ctl, "-q", "list_queues", "name", "messages_unacknowledged"],
                         capture_output=True, text=True, timeout=60).stdout
    for line in out.splitlines():
        name, _, count = line.partition("\t")
        if name == queue:
            return int(count)
    return 0


def test_sigkill_with_prefetched_and_running_jobs_loses_nothing(rig: Rig) -> None:
    rabbitmqctl_or_skip()
    rig.enqueue(300)
    victim = rig.worker("--concurrency", "2", "--prefetch", "20", QK_SLEEP_MS="200")
    wait_until(lambda: len(rig.count("start")) >= 2, timeout=60, what="the first jobs to start")
    held = unacked(rig.queue)
    assert held > 2, f"the worker should hold prefetched jobs besides its two running ones, holds {held}"
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(10) == -signal.SIGKILL
    cut_short = set(rig.count("start")) - set(rig.count("done"))
    assert cut_short, "the kill should land while jobs run"
    rescuer = rig.worker("--concurrency", "8", QK_SLEEP_MS="0")
    wait_until(lambda: len(rig.count("done")) == 300, timeout=120, what="every job to be done")
    done = rig.count("done")
    assert sorted(done) == list(range(300)), "a job was lost"
    assert all(done[item] == 1 for item in cut_short), "a job cut short must be run to its end once more"
    rescuer.send_signal(signal.SIGTERM)
    assert rescuer.wait(60) == 0


def test_server_side_connection_close_worker_carries_on(rig: Rig) -> None:
    rabbitmqctl_or_skip()
    worker = rig.worker("--concurrency", "4", QK_SLEEP_MS="20")
    rig.enqueue(400)
    wait_until(lambda: len(rig.count("done")) >= 50, timeout=60, what="the worker to get going")
    names = connections_from(worker.pid)
    assert len(names) == 2, f"expected the worker's publisher and consumer connections, found {names}"
    close_connections(names)
    wait_until(lambda: len(rig.count("done")) == 400, timeout=120, what="all jobs after the cut")
    wait_until(lambda: len(connections_from(worker.pid)) == 2, timeout=60, what="the worker to reconnect")
    assert worker.poll() is None, "the worker must survive the cut"
    assert set(connections_from(worker.pid)).isdisjoint(names)
    rig.produce(400, 100).wait(60)
    wait_until(lambda: len(rig.count("done")) == 500, timeout=60, what="jobs enqueued after the reconnect")
    assert {pid for event, _item, pid in rig.events() if event == "done"} == {worker.pid}
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 0


def test_two_workers_two_producers_twenty_thousand_jobs_exactly_once(rig: Rig) -> None:
    total = 20_000
    workers = [rig.worker("--concurrency", "4") for _ in range(2)]
    producers = [rig.produce(0, total // 2), rig.produce(total // 2, total // 2)]
    for producer in producers:
        assert producer.wait(300) == 0, rig.log.read_text()[-2000:]
    wait_until(lambda: sum(rig.count("done").values()) >= total, timeout=300, what=f"{total} jobs done")
    done = rig.count("done")
    assert sorted(done) == list(range(total))
    assert set(done.values()) == {1}, "with nothing killed, every job runs exactly once"
    assert {pid for event, _item, pid in rig.events() if event == "done"} == {w.pid for w in workers}
    for w in workers:
        w.send_signal(signal.SIGTERM)
    assert [w.wait(60) for w in workers] == [0, 0]
