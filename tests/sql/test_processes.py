"""Real processes on one database: round trips, a SIGKILLed worker, concurrent writers and workers."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import wait_until

HERE = Path(__file__).parent
APP = "sql_app:app"


class Procs:
    """Environment and helpers for one test: a database URL and a ledger of its own."""

    def __init__(self, url: str, tmp: Path) -> None:
        self.ledger = tmp / "ledger.txt"
        self.log = tmp / "spawned.log"
        self.vars = {
            **os.environ,
            "QUEUEKIT_BROKER_URL": url,
            "QK_LEDGER": str(self.ledger),
            "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parents[1])]),
        }
        self.started: list[subprocess.Popen[str]] = []

    def spawn(self, args: list[str], **extra: str) -> subprocess.Popen[str]:
        with self.log.open("a") as out:
            process = subprocess.Popen([sys.executable, *args], env={**self.vars, **extra}, cwd=HERE,
                                       stdout=out, stderr=subprocess.STDOUT, text=True)
        self.started.append(process)
        return process

    def end_all(self) -> None:
        """Kill what this test started and is still running (a failed test leaves workers behind)."""
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(30)

    def worker(self, *args: str, **extra: str) -> subprocess.Popen[str]:
        return self.spawn(["-m", "queuekit", "worker", APP, *args], **extra)

    def produce(self, first: int, count: int, batch: int) -> subprocess.Popen[str]:
        return self.spawn(["-c", f"import sql_app; sql_app.produce({first}, {count}, {batch})"])

    def finish(self, process: subprocess.Popen[str], timeout: float = 300) -> None:
        assert process.wait(timeout) == 0, self.log.read_text()[-3000:]

    def count(self, event: str) -> collections.Counter[int]:
        if not self.ledger.exists():
            return collections.Counter()
        rows = [line.split() for line in self.ledger.read_text().splitlines()]
        return collections.Counter(int(item) for name, item, _ in rows if name == event)


@pytest.fixture
def procs(db_url: str, tmp_path: Path) -> Iterator[Procs]:
    spawned = Procs(db_url, tmp_path)
    try:
        yield spawned
    finally:
        spawned.end_all()


def test_a_thousand_jobs_from_a_producer_process_run_exactly_once_in_a_burst_worker(procs: Procs) -> None:
    procs.finish(procs.produce(0, 1000, 1))
    procs.finish(procs.worker("--burst", "--concurrency", "4"))
    done = procs.count("done")
    assert sorted(done) == list(range(1000))
    assert set(done.values()) == {1}


def test_sigkill_mid_task_the_job_runs_again_after_the_lease(procs: Procs) -> None:
    procs.finish(procs.spawn(["-c", "import sql_app\nfor i in range(3): sql_app.hold.delay(i)"]))
    victim = procs.worker("--queues", "slow", "--concurrency", "3", QK_LEASE="1")
    wait_until(lambda: len(procs.count("start")) == 3, timeout=60, what="three jobs to start")
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    assert procs.count("done") == {}
    Path(str(procs.ledger) + ".release").touch()
    rescuer = procs.worker("--queues", "slow", "--concurrency", "3")
    try:
        wait_until(lambda: sorted(procs.count("done")) == [0, 1, 2], timeout=60, what="all three rerun")
    finally:
        rescuer.send_signal(signal.SIGTERM)
        assert rescuer.wait(30) == 0
    assert procs.count("start") == {0: 2, 1: 2, 2: 2}
    assert procs.count("done") == {0: 1, 1: 1, 2: 1}


def test_four_writer_processes_and_a_worker_lose_nothing_and_never_see_locked(procs: Procs) -> None:
    worker = procs.worker("--concurrency", "4")
    writers = [procs.produce(n * 1000, 1000, 1 if n % 2 else 50) for n in range(4)]
    for writer in writers:
        procs.finish(writer)
    wait_until(lambda: len(procs.count("done")) == 4000, timeout=300, what="4,000 jobs to run")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 0
    assert set(procs.count("done").values()) == {1}
    assert "locked" not in procs.log.read_text().lower()


def test_four_worker_processes_share_the_backlog_each_job_once(procs: Procs, db_url: str) -> None:
    total = 20000 if db_url.startswith("postgresql") else 8000  # issue 7 asks 20,000 of PostgreSQL
    procs.finish(procs.produce(0, total, 500))
    workers = [procs.worker("--burst", "--concurrency", "2") for _ in range(4)]
    for worker in workers:
        procs.finish(worker)
    done = procs.count("done")
    assert len(done) == total
    assert set(done.values()) == {1}
