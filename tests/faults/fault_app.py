"""The fault suite's tasks, built the same way in worker processes and in the test.

Every task writes start and done lines to the ledger (see :mod:`tests.faults.ledger`).
The worker processes run :mod:`tests.faults.worker_app`, which builds this app from
the environment; the test builds it for its own URL to enqueue.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from queuekit import App
from queuekit.execution import current_job
from tests.faults.ledger import LedgerWriter

MAX_SIZE = 64 * 1024  # small, so an oversized body stays cheap on every broker


def build_app(
    url: str | None, queue: str, ledger: Path, *, lease: float = 2.0, redeliveries: int = 2,
    secret: str | None = None, results: str | None = None,
) -> App:
    """The fault suite's app on ``url``: tasks named ``faults.*``, all on ``queue``."""
    app = App(url, default_queue=queue, lease=lease, redeliveries=redeliveries, backoff=0.05, max_backoff=0.2,
              max_message_size=MAX_SIZE, secret=secret, results=results)
    writer = LedgerWriter(ledger, "worker")

    def begin(key: str) -> None:
        job = current_job()
        writer.start(key, job.delivery.attempts if job else 0)

    @app.task(name="faults.work", retries=5, store_result=False)
    def work(key: str, sleep_ms: float = 0.0) -> None:
        """A short job: start, sleep, done."""
        begin(key)
        if sleep_ms:
            time.sleep(sleep_ms / 1000)
        writer.done(key)

    @app.task(name="faults.brief", store_result=False)
    def brief(key: str, sleep_ms: float = 0.0) -> None:
        """Like work, without retries: only the app's redeliveries allow it to come back."""
        begin(key)
        if sleep_ms:
            time.sleep(sleep_ms / 1000)
        writer.done(key)

    @app.task(name="faults.hold", store_result=False)
    def hold(key: str) -> None:
        """Start, then wait until the file ``release`` exists in the ledger folder."""
        begin(key)
        while not (ledger / "release").exists():
            time.sleep(0.01)
        writer.done(key)

    @app.task(name="faults.poison", store_result=False)
    def poison(key: str) -> None:
        """Kill the worker process on every attempt, as an OOM kill or a segfault would."""
        begin(key)
        os._exit(137)

    @app.task(name="faults.explode", retries=2)
    def explode(key: str) -> None:
        """Raise on every attempt."""
        begin(key)
        raise RuntimeError(f"explode {key}")

    @app.task(name="faults.modules", store_result=False)
    def modules(key: str) -> None:
        """Write this process's ``sys.modules`` names to ``modules-<key>.txt``."""
        begin(key)
        (ledger / f"modules-{key}.txt").write_text("\n".join(sorted(sys.modules)))
        writer.done(key)

    del work, brief, hold, poison, explode, modules  # registered on the app; reached by name
    return app
