"""An app for the periodic-job and rate-limit process tests: each run appends to a ledger file.

Environment: QUEUEKIT_BROKER_URL picks the broker; QK_LEDGER is the ledger path; QK_SCHEDULE
names the schedule (unique per test, so tests sharing a Redis server do not meet).
Lines: ``tick <dedup key of the tick> <pid> <time>`` and ``start <n> <pid> <time>``.
"""

from __future__ import annotations

import os
import time

from queuekit import App, current_job

app = App(default_queue=os.environ.get("QK_QUEUE", "periodic"))


def note(event: str, item: object) -> None:
    """Append one line to the ledger with one O_APPEND write."""
    line = f"{event} {item} {os.getpid()} {time.time():.6f}\n".encode()
    fd = os.open(os.environ["QK_LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


@app.periodic(every=1, name=os.environ.get("QK_SCHEDULE", "tick"))
def tick() -> None:
    """Note which tick this run belongs to (the tick is in the job's dedup key)."""
    job = current_job()
    note("tick", job.message.key if job is not None else None)


@app.task(rate_limit="10/s")
def call(n: int) -> int:
    """Note the start of a rate-limited call."""
    note("start", n)
    return n
