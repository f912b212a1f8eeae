"""The command line in real processes on SQLite: round trips, kills, signals, the DLQ."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import wait_until

HERE = Path(__file__).parent
APP = "ledger_app:app"


class Env:
    """Paths and environment for one test: a private SQLite file and ledger."""

    def __init__(self, tmp: Path) -> None:
        self.db = tmp / "jobs.db"
        self.ledger = tmp / "ledger.txt"
        self.log = tmp / "spawned.log"
        self.vars = {
            **os.environ,
            "QUEUEKIT_BROKER_URL": f"sqlite:///{self.db}",
            "QK_LEDGER": str(self.ledger),
            "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parents[1])]),
        }

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "queuekit", *args], env=self.vars, cwd=HERE,
                              capture_output=True, text=True, timeout=timeout)

    def spawn(self, *args: str, **extra: str) -> subprocess.Popen[str]:
        """Start a command in the background; its output goes to ``self.log``."""
        with self.log.open("a") as out:
            return subprocess.Popen([sys.executable, "-m", "queuekit", *args], env={**self.vars, **extra},
                                    cwd=HERE, stdout=out, stderr=subprocess.STDOUT, text=True)

    def python(self, code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code], env=self.vars, cwd=HERE,
                              capture_output=True, text=True, timeout=120, check=True)

    def events(self) -> list[tuple[str, int, int]]:
        if not self.ledger.exists():
            return []
        rows = [line.split() for line in self.ledger.read_text().splitlines()]
        return [(event, int(item), int(pid)) for event, item, pid in rows]

    def count(self, event: str) -> collections.Counter[int]:
        return collections.Counter(item for name, item, _ in self.events() if name == event)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    yield Env(tmp_path)


def test_a_thousand_jobs_cross_processes_run_exactly_once(env: Env) -> None:
    env.python("from ledger_app import app, record\n"
               "app.enqueue_many([record.message(i) for i in range(1000)])")
    status = env.run("status")
    assert status.returncode == 0, status.stderr
    assert "1000" in status.stdout
    worker = env.run("worker", APP, "--burst", "--concurrency", "4")
    assert worker.returncode == 0, worker.stderr
    done = env.count("done")
    assert sorted(done) == list(range(1000))
    assert set(done.values()) == {1}


def test_sigkill_mid_task_loses_nothing(env: Env) -> None:
    env.python("from ledger_app import hold\nfor i in range(3): hold.delay(i)")
    victim = env.spawn("worker", APP, "--queues", "slow", "--concurrency", "3", QK_LEASE="1")
    wait_until(lambda: len(env.count("start")) == 3, timeout=30, what="three jobs to start")
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    assert env.count("done") == {}
    (env.ledger.parent / (env.ledger.name + ".release")).touch()
    drain_until(env, lambda: sorted(env.count("done")) == [0, 1, 2], "--queues", "slow")
    assert all(n == 2 for n in env.count("start").values())


def test_sigterm_finishes_running_work_and_exits_zero(env: Env) -> None:
    env.python("from ledger_app import hold\nfor i in range(4): hold.delay(i)")
    worker = env.spawn("worker", APP, "--queues", "slow", "--concurrency", "2", "--prefetch", "2")
    wait_until(lambda: len(env.count("start")) == 2, timeout=30, what="two jobs to start")
    worker.send_signal(signal.SIGTERM)
    (env.ledger.parent / (env.ledger.name + ".release")).touch()
    assert worker.wait(30) == 0
    assert len(env.count("done")) == 2
    status = env.run("status", "--json")
    assert '"ready": 2' in status.stdout  # the two prefetched jobs were handed back at once


def drain_until(env: Env, predicate: Callable[[], bool], *worker_args: str) -> None:
    """Run burst workers until ``predicate`` holds: a burst worker leaves jobs that are
    not yet due (a retry's backoff, a dead worker's unexpired lease) for a later one."""

    def drained() -> bool:
        result = env.run("worker", APP, "--burst", *worker_args)
        assert result.returncode == 0, result.stderr
        return predicate()

    wait_until(drained, timeout=60, what="burst workers to reach the expected state")


def test_dead_letters_can_be_listed_requeued_and_purged(env: Env) -> None:
    env.python("from ledger_app import explode\nexplode.delay(7)")
    drain_until(env, lambda: "1 dead letter(s)" in env.run("dlq", "list", "default").stdout)
    assert env.count("start") == {7: 2}  # first attempt and one retry
    listing = env.run("dlq", "list", "default")
    assert "RuntimeError: explode 7" in listing.stdout and "attempts=2" in listing.stdout
    assert "requeued 1" in env.run("dlq", "requeue", "default").stdout
    drain_until(env, lambda: env.count("start") == {7: 4})
    assert "1 dead letter(s)" in env.run("dlq", "list", "default").stdout
    assert "deleted 1" in env.run("dlq", "purge", "default").stdout
    assert "0 dead letter(s)" in env.run("dlq", "list", "default").stdout


def test_enqueue_from_the_shell_and_several_processes(env: Env) -> None:
    for i in range(40):
        result = env.run("enqueue", APP, "record", "--args", f"[{i}]")
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.strip()) == 32
    worker = env.run("worker", APP, "--burst", "--processes", "2", "--concurrency", "2")
    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert sorted(env.count("done")) == list(range(40))


def test_bad_input_exits_2_with_a_named_problem(env: Env) -> None:
    assert "not registered" in env.run("enqueue", APP, "nosuch").stderr
    assert "must be a JSON array" in env.run("enqueue", APP, "record", "--args", '{"a": 1}').stderr
    secret = env.run("status", "--url", "nosuch://user:hunter2@host/")
    assert secret.returncode == 2
    assert "installed schemes" in secret.stderr and "hunter2" not in secret.stderr
    assert "module:attribute" in env.run("worker", "ledger_app").stderr


def test_a_second_signal_exits_at_once_and_the_lease_brings_the_job_back(env: Env) -> None:
    env.python("from ledger_app import hold\nhold.delay(1)")
    worker = env.spawn("worker", APP, "--queues", "slow", "--grace", "60", QK_LEASE="1")
    wait_until(lambda: env.count("start") == {1: 1}, timeout=30, what="the job to start")
    worker.send_signal(signal.SIGTERM)
    wait_until(lambda: "stopping gracefully" in env.log.read_text(), timeout=10, what="the first signal to land")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(10) == 1
    wait_until(lambda: '"ready": 1' in env.run("status", "--json").stdout, timeout=30,
               what="the lease to expire and the job to be ready again")

