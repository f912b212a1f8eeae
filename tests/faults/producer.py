"""A producer process for the fault suite: ``delay()`` one job after another until told to stop.

Run as ``python -m tests.faults.producer`` with the rig's environment (QUEUEKIT_BROKER_URL,
QK_QUEUE, QK_LEDGER_DIR). Every job is a ``faults.work`` with a fresh key; the ledger
notes ``A <key>`` when ``delay()`` returned and ``E <key> <exception class>`` when it
raised, and the producer carries on with the next key. It stops when the file
``stop-producing`` appears in the ledger folder (or after QK_PRODUCE_MAX jobs) and exits 0.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.faults.fault_app import build_app
from tests.faults.ledger import LedgerWriter

STOP = "stop-producing"


def main() -> None:
    """Enqueue until the stop file appears, noting each outcome."""
    folder = Path(os.environ["QK_LEDGER_DIR"])
    app = build_app(None, os.environ["QK_QUEUE"], folder, lease=float(os.environ.get("QK_LEASE", "2")))
    writer = LedgerWriter(folder, "producer")
    task = app.tasks["faults.work"]
    limit = int(os.environ.get("QK_PRODUCE_MAX", "100000"))
    try:
        for n in range(limit):
            if (folder / STOP).exists():
                break
            key = f"p{n:06d}"
            try:
                task.delay(key)
            except Exception as exc:  # noted with its class; the test decides which ones may happen
                writer.raised(key, exc)
            else:
                writer.accepted([key])
    finally:
        app.close()


if __name__ == "__main__":
    main()
