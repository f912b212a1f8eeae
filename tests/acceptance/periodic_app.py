"""An app for the periodic-job and rate-limit process tests: each run appends to a ledger file.

Environment: QUEUEKIT_BROKER_URL picks the broker; QK_LEDGER is the ledger path; QK_SCHEDULE
names the schedule (unique per test, so tests sharing a Redis server do not meet).
Lines: ``tick <dedup key of the tick> <pid> <time>`` and ``start <n> <pid> <time>``.
"""

from __future__ import annotations

import os
import time

from queuekit import App, current_job
from tests.support import append_line

app = App(default_queue=os.environ.get("QK_QUEUE", "periodic"))


def note(event: str, item: object) -> None:
    """Append one line to the ledger."""
    append_line(os.environ["QK_LEDGER"], f"{event} {item} {os.getpid()} {time.time():.6f}\n")


@app.periodic(every=1, name=os.environ.get("QK_SCHEDULE", "tick"))
def tick() -> None:
    """Note which tick this run belongs to (the tick is in the job's dedup key)."""
    job = current_job()
    note("tick", job.message.key if job is not None else None)


@app.task(rate_limit="10/s")
def call(n: int) -> int:
    """Note the start of a rate-limited call, with the start time it booked."""
    job = current_job()
    note("start", f"{n}:{job.slot if job is not None else 0.0:.6f}")
    return n
