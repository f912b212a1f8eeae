"""The benchmark's tasks, registered under fixed names so producers and workers agree.

* ``qkbench.noop(payload="")``: does nothing; the throughput workloads.
* ``qkbench.tracked(key, sleep_ms=0, payload="")``: writes ``start`` and ``done`` to the
  process's ledger around an optional sleep; the latency, ordering and failure workloads.
* ``qkbench.member(index, key)`` and ``qkbench.total(values, key)``: a chord's header member
  (returns its index, writes ``done key:index``) and its callback (returns the sum, writes
  ``done key``); the workflow workload.

Results are not stored (``store_result=False``) except by the workflow's two tasks, which
need them: the benchmark measures moving jobs. What they store expires after
``RESULT_TTL`` (no API deletes a result), so a run leaves nothing lasting behind.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from queuekit import App, Task
from queuekit_bench.ledger import LedgerWriter

NOOP = "qkbench.noop"
TRACKED = "qkbench.tracked"
MEMBER = "qkbench.member"
TOTAL = "qkbench.total"
RESULT_TTL = 600.0  # seconds: the workflow's results and join state outlive the run only briefly
# A job reserved by a worker that was then killed comes back with one more attempt; the
# tracked task allows many, so redelivered jobs run again instead of being dead-lettered
# as "worker lost" (the task itself never raises, so these retries are never spent on errors).
# The failure workload sends its jobs with retries=0 instead: there, what the app's own
# redeliveries allowance does after kills is what is measured.
TRACKED_RETRIES = 100

_ledger: LedgerWriter | None = None
_ledger_users = 0
_ledger_lock = threading.Lock()


def open_ledger(path: Path) -> None:
    """Send this process's ``start``/``done`` lines to ``path``; pair with :func:`release_ledger`.

    Several in-process workers may share one ledger: it stays open while any uses it.
    """
    global _ledger, _ledger_users
    with _ledger_lock:
        if _ledger is not None and _ledger.path != path:
            raise RuntimeError(f"this process already records to {_ledger.path}, not {path}")
        if _ledger is None:
            _ledger = LedgerWriter(path)
        _ledger_users += 1


def release_ledger() -> None:
    """One user is done with the ledger; the last one closes it."""
    global _ledger, _ledger_users
    with _ledger_lock:
        _ledger_users = max(_ledger_users - 1, 0)
        if _ledger_users == 0 and _ledger is not None:
            _ledger.close()
            _ledger = None


def current_ledger() -> LedgerWriter | None:
    """The ledger this process writes to, if any."""
    return _ledger


def noop(payload: str = "") -> None:
    """Do nothing."""


def tracked(key: str, sleep_ms: float = 0.0, payload: str = "") -> None:
    """Record the start, sleep ``sleep_ms``, record the end."""
    ledger = _ledger
    if ledger is not None:
        ledger.start(key)
    if sleep_ms > 0:
        time.sleep(sleep_ms / 1000.0)
    if ledger is not None:
        ledger.done(key)


def member(index: int, key: str = "") -> int:
    """A chord member: its own index, recorded as ``done key:index`` in the ledger."""
    ledger = _ledger
    if ledger is not None and key:
        ledger.done(f"{key}:{index}")
    return index


def total(values: list[int], key: str) -> int:
    """A chord callback: the sum of the members' results, recorded as ``done key`` in the ledger."""
    found = sum(values)
    ledger = _ledger
    if ledger is not None:
        ledger.done(key)
    return found


def bench_app(url: str, *, lease: float = 30.0, results: str | None = None) -> App:
    """An App on ``url`` with the benchmark's tasks (messages up to 2 MiB for the 1 MB payload).

    ``results``: a separate result store, for the workflow workload on brokers that keep none.
    """
    app = App(url, results=results, lease=lease, max_message_size=2 * 1024 * 1024, result_ttl=RESULT_TTL)
    app.task(name=NOOP, store_result=False)(noop)
    app.task(name=TRACKED, store_result=False, retries=TRACKED_RETRIES)(tracked)
    app.task(name=MEMBER)(member)
    app.task(name=TOTAL)(total)
    return app


def task(app: App, name: str) -> Task[Any, Any]:
    """One of the benchmark tasks of ``app``."""
    return app.tasks[name]
