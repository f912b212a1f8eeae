"""The app run by the RabbitMQ fault tests' worker processes; every job writes a ledger line.

Environment: QUEUEKIT_BROKER_URL (the shared RabbitMQ), QK_QUEUE (this test's queue),
QK_LEDGER (the ledger file) and QK_SLEEP_MS (how long each job takes).
Each ledger line is ``<event> <item> <pid>``, written with one O_APPEND write.
"""

from __future__ import annotations

import os
import time

from queuekit import App

app = App(default_queue=os.environ.get("QK_QUEUE", "default"), backoff=0.05, max_backoff=0.2)


def note(event: str, item: object) -> None:
    """Append one line to the ledger atomically."""
    line = f"{event} {item} {os.getpid()}\n".encode()
    fd = os.open(os.environ["QK_LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


@app.task(retries=5, store_result=False)
def work(item: int) -> None:
    """Note the start, take QK_SLEEP_MS, note the end."""
    note("start", item)
    pause = float(os.environ.get("QK_SLEEP_MS", "0")) / 1000
    if pause:
        time.sleep(pause)
    note("done", item)


def produce(first: int, count: int, batch: int = 500) -> None:
    """Enqueue items ``first .. first+count-1`` in batches (used by producer processes)."""
    for start in range(first, first + count, batch):
        app.enqueue_many(work.message(i) for i in range(start, min(start + batch, first + count)))
    app.close()
