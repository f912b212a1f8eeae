"""A small app for the SQL process tests: tasks append to a ledger file outside the database.

Environment: QUEUEKIT_BROKER_URL picks the database, QK_LEDGER the ledger path, QK_LEASE the lease.
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


@app.task(store_result=False)
def record(item: int) -> None:
    """Note that the job ran."""
    note("done", item)


@app.task(queue="slow", store_result=False)
def hold(item: int) -> None:
    """Note the start, then wait for the release file (the test kills the worker first)."""
    note("start", item)
    release = Path(os.environ["QK_LEDGER"] + ".release")
    while not release.exists():
        time.sleep(0.02)
    note("done", item)


def produce(first: int, count: int, batch: int) -> None:
    """Enqueue jobs ``first .. first+count-1``, ``batch`` per call (1: one by one)."""
    for start in range(first, first + count, batch):
        stop = min(start + batch, first + count)
        if batch == 1:
            record.delay(start)
        else:
            app.enqueue_many([record.message(i) for i in range(start, stop)])
