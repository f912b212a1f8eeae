"""Metrics and logs of real worker processes: a Prometheus scrape over HTTP, JSON log lines.

The worker runs ``tests/acceptance/observed_app.py`` on a private SQLite file; 50 jobs,
every fifth failing, must show up in ``/metrics`` as 40 succeeded and 10 failed, with one
worker process and with two under a supervisor.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.own_servers import free_port
from tests.support import wait_until

HERE = Path(__file__).parent
APP = "observed_app:app"


class Rig:
    """A private SQLite broker, environment and the processes one test started."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.vars = {**os.environ, "QUEUEKIT_BROKER_URL": f"sqlite:///{tmp / 'jobs.db'}",
                     "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parents[1])])}
        self.vars.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.procs: list[subprocess.Popen[str]] = []

    def enqueue(self, count: int, task: str = "work") -> None:
        code = f"from observed_app import app, {task}; app.enqueue_many([{task}.message(i) for i in range({count})])"
        subprocess.run([sys.executable, "-c", code], env=self.vars, cwd=HERE, check=True, timeout=120)

    def spawn(self, *args: str, log: str = "out.log") -> subprocess.Popen[str]:
        with (self.tmp / log).open("a") as out:
            proc = subprocess.Popen([sys.executable, "-m", "queuekit", *args], env=self.vars, cwd=HERE,
                                    stdout=out, stderr=subprocess.STDOUT, text=True)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[str]) -> int:
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=60)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    try:
        yield made
    finally:
        made.close()


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample on /metrics, keyed by name and sorted labels; empty while nothing listens."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.TransportError:
        return {}
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def by_outcome(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> dict[str, float]:
    return {dict(labels)["outcome"]: value for (name, labels), value in samples.items()
            if name == "queuekit_jobs_total"}


@pytest.mark.parametrize("processes", [1, 2])
def test_a_scrape_counts_fifty_jobs_by_outcome(rig: Rig, processes: int) -> None:
    port = free_port()
    worker = rig.spawn("worker", APP, "--metrics-port", str(port), "--concurrency", "2",
                       "--processes", str(processes))
    up = ("queuekit_worker_up", ())
    wait_until(lambda: scrape(port).get(up) == float(processes), timeout=60, what=f"{processes} workers up")
    rig.enqueue(50)
    wait_until(lambda: sum(by_outcome(scrape(port)).values()) >= 50, timeout=60, what="50 jobs counted")
    samples = scrape(port)
    assert by_outcome(samples) == {"succeeded": 40.0, "failed": 10.0}
    task = (("queue", "observed"), ("task", "observed_app.work"))
    assert samples[("queuekit_job_duration_seconds_count", task)] == 50.0
    assert samples[("queuekit_job_wait_seconds_count", (("queue", "observed"),))] == 50.0
    assert samples[("queuekit_jobs_in_flight", (("queue", "observed"),))] == 0.0
    assert samples[up] == float(processes)
    ready = ("queuekit_queue_depth", (("queue", "observed"), ("state", "ready")))
    dead = ("queuekit_queue_depth", (("queue", "observed"), ("state", "dead")))
    wait_until(lambda: scrape(port).get(ready) == 0.0 and scrape(port).get(dead) == 10.0, timeout=30,
               what="the sampled depth to show the drained queue")
    assert rig.stop(worker) == 0


def test_metrics_command_serves_depths_without_a_worker(rig: Rig) -> None:
    rig.enqueue(3)
    port = free_port()
    rig.spawn("metrics", APP, "--port", str(port), "--every", "0.2")
    ready = ("queuekit_queue_depth", (("queue", "observed"), ("state", "ready")))
    wait_until(lambda: scrape(port).get(ready) == 3.0, timeout=30, what="depth 3 on /metrics")
    rig.enqueue(2)
    wait_until(lambda: scrape(port).get(ready) == 5.0, timeout=30, what="depth 5 after two more")
    assert not any(name == "queuekit_jobs_total" for name, _ in scrape(port))


def test_json_logs_one_object_per_line_with_the_job_on_lines_written_while_it_runs(rig: Rig) -> None:
    rig.enqueue(6)
    done = subprocess.run([sys.executable, "-m", "queuekit", "--log-format", "json", "worker", APP, "--burst",
                           "--concurrency", "2"], env=rig.vars, cwd=HERE, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert records and all({"time", "level", "logger", "message", "job_id", "task", "queue", "attempt"} <= set(r)
                           for r in records)
    library = [r for r in records if r["logger"] == "somelibrary"]
    assert len(library) == 6 and len({r["job_id"] for r in library}) == 6
    assert all(r["task"] == "observed_app.work" and r["queue"] == "observed" and r["attempt"] == 1 for r in library)
    failed = [r for r in records if "dead-lettered" in r["message"]]
    assert len(failed) == 2 and all(r["job_id"] for r in failed)
    assert any(r["message"].startswith("worker started") and r["job_id"] is None for r in records)
