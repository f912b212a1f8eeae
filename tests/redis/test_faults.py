"""Fault tests in real processes: a SIGKILLed worker, a restarted server, concurrent load.

Each test runs its own ``redis-server`` (no persistence) on a free port and stops or
restarts it by PID; workers and producers are child processes of the test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from queuekit_redis import RedisBroker

from queuekit.broker import QueueStats
from tests.redis.procs import QUEUE
from tests.redis.servers import PrivateRedis, unique_prefix
from tests.support import wait_until

pytestmark = [pytest.mark.service, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


class Procs:
    """Child processes of one test; all are killed at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.children: list[subprocess.Popen[bytes]] = []

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        log = (self.tmp_path / f"proc-{len(self.children)}.log").open("wb")
        child = subprocess.Popen([sys.executable, "-m", "tests.redis.procs", *args], cwd=ROOT, env=env,
                                 stdout=log, stderr=subprocess.STDOUT)
        self.children.append(child)
        return child

    def log(self, child: subprocess.Popen[bytes]) -> str:
        return (self.tmp_path / f"proc-{self.children.index(child)}.log").read_text(errors="replace")

    def kill_all(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.kill()
                child.wait(10)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    found = Procs(tmp_path)
    yield found
    found.kill_all()


def runs(server: PrivateRedis, prefix: str) -> list[tuple[int, int, int]]:
    """Every recorded run as (n, attempts, pid)."""
    raw = server.client().lrange(f"{prefix}:runs", 0, -1)
    return [tuple(int(part) for part in item.decode().split(":")) for item in raw]  # type: ignore[misc]


def done(server: PrivateRedis, prefix: str) -> dict[int, int]:
    """Completed runs per job number."""
    raw = server.client().hgetall(f"{prefix}:done")
    return {int(key): int(value) for key, value in raw.items()}


def test_sigkilled_worker_holding_50_leases_loses_nothing(private_redis: PrivateRedis, procs: Procs) -> None:
    prefix = unique_prefix()
    url = private_redis.url
    doomed = procs.spawn("worker", url, prefix, "--mode", "hang", "--concurrency", "50", "--prefetch", "0")
    procs.spawn("producer", url, prefix, "--count", "50", "--batch", "10").wait(60)
    wait_until(lambda: len(runs(private_redis, prefix)) == 50, 60, "the first worker to hold all 50 jobs")
    broker = RedisBroker(url, prefix=prefix)
    assert broker.stats([QUEUE])[QUEUE] == QueueStats(in_flight=50)

    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(10)
    procs.spawn("worker", url, prefix, "--mode", "quick")
    wait_until(lambda: len(done(private_redis, prefix)) == 50, 60, "all 50 jobs to run again after the leases")

    assert done(private_redis, prefix) == {n: 1 for n in range(50)}, "every job completes once, none lost"
    recorded = runs(private_redis, prefix)
    first = [(n, attempts) for n, attempts, pid in recorded if pid == doomed.pid]
    again = [(n, attempts) for n, attempts, pid in recorded if pid != doomed.pid]
    assert sorted(first) == [(n, 1) for n in range(50)]
    assert sorted(again) == [(n, 2) for n in range(50)], "the second run is the second attempt"
    duplicates = len(recorded) - len(done(private_redis, prefix))
    print(f"\nSIGKILL with 50 leases held: lost 0, duplicated runs {duplicates} (each held job ran twice)")
    assert duplicates == 50
    wait_until(lambda: broker.stats([QUEUE])[QUEUE] == QueueStats(), 30, "the queue to be empty")


def test_worker_survives_a_server_restart(private_redis: PrivateRedis, procs: Procs) -> None:
    prefix = unique_prefix()
    url = private_redis.url
    worker = procs.spawn("worker", url, prefix)
    procs.spawn("producer", url, prefix, "--count", "20").wait(60)
    wait_until(lambda: len(done(private_redis, prefix)) == 20, 60, "the first 20 jobs to run")

    private_redis.restart()  # SIGKILL and start again: no persistence, so all data is gone
    procs.spawn("producer", url, prefix, "--start", "100", "--count", "20").wait(60)
    wait_until(lambda: len(done(private_redis, prefix)) == 20, 60, "the 20 jobs sent after the restart to run")

    assert set(done(private_redis, prefix)) == set(range(100, 120))
    assert worker.poll() is None, "the worker must survive the restart"
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 0, "a graceful stop after the restart exits 0"
    output = procs.log(worker)
    assert "lost the data of queue" in output, "the worker must report the reset it saw"


def test_a_lost_redis_is_recorded_until_acknowledged_and_stops_a_worker_that_asks(
    private_redis: PrivateRedis, procs: Procs
) -> None:
    """Issue 12 item 3: ERROR, a state_reset record in `queuekit status` until --ack-reset, --on-state-loss=exit."""
    prefix = unique_prefix()
    url = private_redis.url
    staying = procs.spawn("worker", url, prefix)
    leaving = procs.spawn("worker", url, prefix, "--on-state-loss", "exit")
    procs.spawn("producer", url, prefix, "--count", "20").wait(60)
    sent = [20]

    def both_know_the_queue() -> bool:
        """Each worker ran a job, so each saw the queue's epoch before the loss (a slow start may see none)."""
        if {pid for _, _, pid in runs(private_redis, prefix)} >= {staying.pid, leaving.pid}:
            return True
        if len(done(private_redis, prefix)) == sent[0]:  # all ran on one worker: send more
            procs.spawn("producer", url, prefix, "--start", str(1000 + sent[0]), "--count", "20").wait(60)
            sent[0] += 20
        return False

    wait_until(both_know_the_queue, 120, "both workers to run a job before the restart")

    private_redis.restart()  # no persistence: every queued job and the queue's epoch are gone
    procs.spawn("producer", url, prefix, "--start", "100", "--count", "20").wait(60)
    try:
        code = leaving.wait(60)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the --on-state-loss=exit worker still runs 60 s after the loss:\n"
                             f"{procs.log(leaving)[-4000:]}") from None
    assert code == 3, f"--on-state-loss=exit stops the worker with status 3, not {code}:\n{procs.log(leaving)[-4000:]}"
    assert staying.poll() is None, "a worker without the option goes on"
    wait_until(lambda: len(done(private_redis, prefix)) == 20, 60, "the jobs sent after the restart to run")

    where = f"{url}?prefix={prefix}"

    def status(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "queuekit", "status", "--url", where, "--queues", QUEUE, *extra],
                              capture_output=True, text=True, timeout=60)

    shown = json.loads(status("--json").stdout)[QUEUE]["state_reset"]
    assert shown is not None and shown["queue"] == QUEUE and shown["last_known_backlog"] is not None, shown
    text = status().stdout
    assert f"STATE RESET: queue '{QUEUE}' lost its data" in text and "--ack-reset" in text, text
    acked = status("--ack-reset")
    assert "acknowledged" in acked.stdout and "STATE RESET" not in acked.stdout, acked.stdout
    assert json.loads(status("--json").stdout)[QUEUE]["state_reset"] is None
    output = procs.log(leaving)
    assert "ERROR queuekit.redis" in output and "lost the data of queue" in output, output
    assert "state reset recorded" in output and "stopping: --on-state-loss=exit" in output, output


def test_two_workers_two_producers_complete_each_job_once(private_redis: PrivateRedis, procs: Procs) -> None:
    prefix = unique_prefix()
    url = private_redis.url
    workers = [procs.spawn("worker", url, prefix) for _ in range(2)]
    producers = [
        procs.spawn("producer", url, prefix, "--start", str(start), "--count", "10000", "--batch", "200")
        for start in (0, 10000)
    ]
    for producer in producers:
        assert producer.wait(300) == 0, procs.log(producer)
    wait_until(lambda: len(done(private_redis, prefix)) == 20000, 300, "all 20,000 jobs to complete")

    completed = done(private_redis, prefix)
    assert set(completed) == set(range(20000))
    assert [n for n, count in completed.items() if count != 1] == [], "a job completed more than once"
    assert len(runs(private_redis, prefix)) == 20000, "no job ran twice"
    broker = RedisBroker(url, prefix=prefix)
    assert broker.stats([QUEUE])[QUEUE] == QueueStats()
    assert all(worker.poll() is None for worker in workers)
