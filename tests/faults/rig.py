"""One test's apparatus: the target backend, the ledger, and the worker (and producer) processes.

Workers are real ``python -m queuekit worker`` processes of this test's own; they are
stopped by their PID (through their ``Popen``) at teardown, never by name.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from queuekit import App
from queuekit.broker import QueueStats
from queuekit.message import Message
from tests.faults.fault_app import build_app
from tests.faults.ledger import Ledger, LedgerWriter, account, read_ledger
from tests.faults.producer import STOP
from tests.faults.targets import Target
from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[2]
WORKER_APP = "tests.faults.worker_app:app"
_INHERITED_SETTINGS = ("QUEUEKIT_BROKER_URL", "QUEUEKIT_RESULTS_URL", "QUEUEKIT_SECRET")


class Rig:
    """The target, a ledger folder, a producer app and the worker processes of one test."""

    def __init__(self, target: Target, tmp_path: Path, *, lease: float = 2.0, secret: str | None = None) -> None:
        self.target = target
        self.queue = target.queue
        self.folder = tmp_path / "ledger"
        self.folder.mkdir()
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        self.lease = lease
        self.secret = secret
        self.env = {key: value for key, value in os.environ.items() if key not in _INHERITED_SETTINGS}
        paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        self.env.update({
            "QUEUEKIT_BROKER_URL": target.url, "QK_QUEUE": self.queue, "QK_LEDGER_DIR": str(self.folder),
            "QK_LEASE": str(lease), "PYTHONPATH": os.pathsep.join(paths),
        })
        if target.results:
            self.env["QUEUEKIT_RESULTS_URL"] = target.results
        if secret:
            self.env["QUEUEKIT_SECRET"] = secret
        self.writer = LedgerWriter(self.folder, "producer")
        self.children: list[subprocess.Popen[bytes]] = []
        self._app: App | None = None

    @property
    def app(self) -> App:
        """The producer's app: the same tasks as the workers', on the same broker."""
        if self._app is None:
            self._app = build_app(self.target.url, self.queue, self.folder, lease=self.lease, secret=self.secret,
                                  results=self.target.results)
        return self._app

    def enqueue(self, messages: Iterable[Message]) -> list[str]:
        """Enqueue in one call; note every job's key (its first argument) as accepted."""
        batch = list(messages)
        ids = [job.id for job in self.app.enqueue_many(batch)]
        self.writer.accepted([str(message.args[0]) for message in batch])
        return ids

    def message(self, task: str, *args: object, **options: Any) -> Message:
        """A message for one of the ``faults.*`` tasks."""
        return self.app.tasks[task].build(args, {}, **options)

    def worker(self, *options: str, url: str | None = None, log_level: str = "info",
               env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start a worker process on this test's queue; its output goes to its own log file."""
        argv = [sys.executable, "-m", "queuekit", "--log-level", log_level, "worker", WORKER_APP,
                "--queues", self.queue, *options]
        if url:
            argv += ["--url", url]
        return self._spawn(argv, env)

    def producer(self) -> subprocess.Popen[bytes]:
        """Start a process that ``delay()``s jobs one by one until :meth:`stop_producing` (tests.faults.producer)."""
        return self._spawn([sys.executable, "-m", "tests.faults.producer"])

    def stop_producing(self) -> None:
        """Tell the producer processes to finish the job in hand and exit."""
        (self.folder / STOP).touch()

    def _spawn(self, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with self.log_path(len(self.children)).open("wb") as out:
            child = subprocess.Popen(argv, cwd=ROOT, env={**self.env, **(env or {})}, stdout=out,
                                     stderr=subprocess.STDOUT)
        self.children.append(child)
        return child

    def log_path(self, index: int) -> Path:
        """Where the ``index``-th process's output goes (workers and producers alike)."""
        return self.logs / f"worker-{index}.log"

    def log(self, child: subprocess.Popen[bytes]) -> str:
        """Everything a worker process wrote so far."""
        return self.log_path(self.children.index(child)).read_text(errors="replace")

    def all_logs(self) -> str:
        """Everything every worker process wrote."""
        return "".join(self.log(child) for child in self.children)

    def ledger(self) -> Ledger:
        """The ledger as it stands."""
        return read_ledger(self.folder)

    def stats(self) -> QueueStats:
        """This test's queue, as the broker counts it."""
        return self.app.broker.stats([self.queue]).get(self.queue, QueueStats())

    def started(self, child: subprocess.Popen[bytes]) -> bool:
        """True once the worker logged its start (its signal handlers are installed by then)."""
        return "worker started" in self.log(child)

    def _up_or_gone(self, child: subprocess.Popen[bytes]) -> bool:
        return child.poll() is not None or self.started(child)

    def stop(self, children: Sequence[subprocess.Popen[bytes]], timeout: float = 60) -> list[int]:
        """SIGTERM the given workers once they are up, and return their exit codes."""
        for child in children:
            wait_until(functools.partial(self._up_or_gone, child), timeout, "the worker to start")
            if child.poll() is None:
                child.terminate()
        return [child.wait(timeout) for child in children]

    def done(self) -> int:
        """How many distinct jobs the ledger says finished."""
        return len(self.ledger().done_counts())

    def check_drain(self, worker: subprocess.Popen[bytes], jobs: int, label: str, most_duplicated: int,
                    **figures: object) -> None:
        """After a fault mid-drain: the queue empties, nothing is lost or unexpected, duplicates stay bounded,
        and ``worker`` survived, stops cleanly and logged no traceback. Prints the figures."""
        wait_until(lambda: self.stats() == QueueStats(), 60, "the queue to be empty with nothing in flight")
        verdict = account(self.ledger())
        shown = " ".join(f"{name}={value}" for name, value in figures.items())
        summary = f"[{label}] {verdict.summary()} dead=0 recovered_by_itself=yes {shown}"
        print(f"\n{summary}")
        assert verdict.accepted == jobs and verdict.lost == 0, f"{summary}; lost e.g. {verdict.lost_keys}"
        assert verdict.unexpected == 0, summary
        assert verdict.duplicated <= most_duplicated, summary
        assert worker.poll() is None, f"the worker must survive: {label}"
        assert self.stop([worker]) == [0], self.log(worker)[-3000:]
        assert "Traceback" not in self.all_logs(), self.all_logs()[-3000:]

    def close(self) -> None:
        """Kill any worker still running (ours, by PID) and close the producer."""
        for child in self.children:
            if child.poll() is None:
                child.kill()
                child.wait(30)
        if self._app is not None:
            self._app.close()
            self._app = None
