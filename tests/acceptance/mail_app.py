"""A second app for acceptance tests: its one task uses queue ``emails``, none uses ``default``.

Environment: QK_MAIL_URL is its broker URL (given to App() directly, so it can differ
from QUEUEKIT_BROKER_URL); QK_LEDGER is the ledger path.
"""

from __future__ import annotations

import os

from ledger_app import note

from queuekit import App

app = App(os.environ["QK_MAIL_URL"], backoff=0.05, max_backoff=0.1)


@app.task(queue="emails")
def send(item: int) -> int:
    """Note that the mail went out."""
    note("sent", item)
    return item


@app.task(queue="emails")
def bounce(item: int) -> None:
    """Always fails, with no retries."""
    raise ValueError(f"mailbox {item} is full")
