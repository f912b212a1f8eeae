"""The app the fault suite's worker processes run: ``tests.faults.worker_app:app``.

Environment: QUEUEKIT_BROKER_URL (or ``--url``), QK_QUEUE (this test's queue),
QK_LEDGER_DIR (the ledger folder), QK_LEASE and QK_REDELIVERIES; QUEUEKIT_SECRET and
QUEUEKIT_RESULTS_URL where the test sets them.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.faults.fault_app import build_app

app = build_app(
    None,
    os.environ.get("QK_QUEUE", "default"),
    Path(os.environ.get("QK_LEDGER_DIR", ".")),
    lease=float(os.environ.get("QK_LEASE", "2")),
    redeliveries=int(os.environ.get("QK_REDELIVERIES", "2")),
)
