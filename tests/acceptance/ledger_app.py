"""A tiny app for acceptance tests: every task appends to a ledger file outside the broker.

Environment: QUEUEKIT_BROKER_URL picks the broker; QK_LEDGER is the ledger path.
Each ledger line is ``<event> <job argument> <pid>``, written with one O_APPEND write.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from queuekit import App

app = App(lease=float(os.environ.get("QK_LEASE", "30")), backoff=0.05, max_backoff=0.1)


def note(event: str, item: object) -> None:
    """Append one line to the ledger atomically."""
    line = f"{event} {item} {os.getpid()}\n".encode()
    fd = os.open(os.environ["QK_LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


@app.task
def record(item: int) -> int:
    """Note that the job ran."""
    note("done", item)
    return item


@app.task(queue="slow")
def hold(item: int) -> int:
    """Note the start, then wait until the release file exists (the test kills us first)."""
    note("start", item)
    release = Path(os.environ["QK_LEDGER"] + ".release")
    while not release.exists():
        time.sleep(0.02)
    note("done", item)
    return item


@app.task(retries=1)
def explode(item: int) -> None:
    """Always fails."""
    note("start", item)
    raise RuntimeError(f"explode {item}")
