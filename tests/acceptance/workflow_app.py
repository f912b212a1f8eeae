"""An app for the workflow process tests: a chord's members and its callback, with a ledger.

Environment: QUEUEKIT_BROKER_URL picks the broker, QK_LEDGER the ledger path, QK_QUEUE the queue.
The callback appends ``callback <count> <sum> <pid>`` to the ledger each time it runs.
"""

from __future__ import annotations

import os
import time

from queuekit import App
from tests.support import append_line

# Short leases bring a killed worker's jobs back quickly; a generous redelivery allowance
# keeps jobs that sat in several killed workers' buffers from being dead-lettered unrun.
app = App(default_queue=os.environ.get("QK_QUEUE", "chord"), lease=2.0, redeliveries=50)


@app.task
def square(n: int) -> int:
    """A header member: a little work, then its result."""
    time.sleep(0.002)
    return n * n


@app.task
def collect(values: list[int]) -> int:
    """The callback: note that it ran, with what it got."""
    append_line(os.environ["QK_LEDGER"], f"callback {len(values)} {sum(values)} {os.getpid()}\n")
    return sum(values)
