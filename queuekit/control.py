"""Controlling jobs: cancel and progress, kept in the app's shared state.

Cancel removes a waiting job from the broker where the broker can delete by id
(capability ``remove``): it then never runs. Otherwise, and for a job a worker already
holds, it raises a flag (``cancel:<id>``) and bumps a generation counter
(``cancel:generation``). Workers read the counter every half second and, when it moved,
the set of flags: a flagged job that has not started is settled as ``cancelled`` unrun,
a running one sees ``current_job().cancelled`` turn true and its outcome is ``cancelled``
(never retried), whatever it returns or raises.

Progress is a small JSON record (``progress:<id>``) the running task writes; it is
deleted when the job's outcome is stored, and the outcome keeps the last value in its
``extra["progress"]``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from queuekit.broker import JobRemoval, JobStatus, Outcome

if TYPE_CHECKING:
    from queuekit.app import App

log = logging.getLogger("queuekit.control")

CANCEL_PREFIX = "cancel:"
GENERATION_KEY = "cancel:generation"
PROGRESS_PREFIX = "progress:"
MAX_NOTE = 500


@dataclass(frozen=True)
class Progress:
    """How far a running job says it is: ``fraction`` in [0, 1], an optional note, and when it said so."""

    fraction: float
    note: str | None
    at: float

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-compatible data."""
        return {"fraction": self.fraction, "note": self.note, "at": self.at}

    @classmethod
    def from_json(cls, data: Any) -> Progress | None:
        """A record read back, or None if it is not one."""
        try:
            return cls(float(data["fraction"]), data.get("note"), float(data["at"]))
        except (TypeError, KeyError, ValueError):
            return None


def make_progress(fraction: float, note: str | None) -> Progress:
    """Validate what a task reports: a fraction within [0, 1] and a short note."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 <= fraction <= 1.0:
        raise ValueError(f"progress fraction must be a number from 0 to 1, got {fraction!r}")
    if note is not None and not isinstance(note, str):
        raise TypeError(f"progress note must be a string, got {type(note).__name__}")
    return Progress(float(fraction), note[:MAX_NOTE] if note else note, time.time())


def save_progress(app: App, job_id: str, progress: Progress) -> None:
    """Store a running job's progress where :func:`read_progress` finds it."""
    app.state.store.kv_set(PROGRESS_PREFIX + job_id, json.dumps(progress.to_json()).encode(), ttl=app.result_ttl)


def read_progress(app: App, job_id: str) -> Progress | None:
    """The job's progress: the live record while it runs, else what its final outcome kept."""
    raw = app.state.store.kv_get(PROGRESS_PREFIX + job_id)
    if raw is not None:
        try:
            return Progress.from_json(json.loads(raw))
        except ValueError:
            return None
    store = app.results
    outcome = store.load_outcome(job_id) if store is not None else None
    if outcome is not None and "progress" in outcome.extra:
        return Progress.from_json(outcome.extra["progress"])
    return None


def forget_progress(app: App, outcomes: Iterable[Outcome]) -> None:
    """Delete the live progress records of finished jobs (their outcomes now hold the last value)."""
    store = app.state.store
    for outcome in outcomes:
        if "progress" in outcome.extra:
            store.kv_delete(PROGRESS_PREFIX + outcome.job_id)


def cancel(app: App, job_id: str) -> bool:
    """Cancel a job: True if it will not run (removed) or was flagged; False if it already finished.

    A job the broker and result store know nothing of gives False as well.
    """
    status = app.job(job_id).status()
    if status.finished or status is JobStatus.UNKNOWN:
        return False
    broker = app.broker
    if broker.capabilities.remove and isinstance(broker, JobRemoval) and broker.remove(job_id):
        store = app.results  # removed: no worker holds it, so no outcome can race this one
        if store is not None:
            store.save_outcomes([Outcome(job_id, JobStatus.CANCELLED, error="cancelled while queued",
                                         finished_at=time.time())], app.result_ttl)
        return True
    # Flagged, not recorded as an outcome: a worker may be storing the job's real outcome
    # right now, which must not be overwritten. Job.status() reads the flag until then.
    flag(app, job_id)
    return True


def flag(app: App, job_id: str) -> None:
    """Flag a job as cancelled (also one not enqueued yet: a later workflow step); workers see it within 0.5 s."""
    state = app.state.store
    state.kv_set(CANCEL_PREFIX + job_id, b"1", ttl=app.result_ttl)
    state.kv_incr(GENERATION_KEY)


def cancel_requested(app: App, job_id: str) -> bool:
    """True if the job was flagged as cancelled (whatever became of it since)."""
    return app.state.store.kv_get(CANCEL_PREFIX + job_id) is not None


class CancelWatch:
    """A worker's view of the cancel flags, refreshed when the generation counter moves."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._generation: bytes | None = None
        self._flagged: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Read the generation counter; reread the flags if it moved (one round trip when nothing changed)."""
        store = self.app.state.store
        generation = store.kv_get(GENERATION_KEY)
        if generation == self._generation:
            return
        flags = store.kv_scan(CANCEL_PREFIX, limit=100_000)
        flagged = frozenset(key[len(CANCEL_PREFIX):] for key in flags if key != GENERATION_KEY)
        with self._lock:
            self._flagged, self._generation = flagged, generation

    def flagged(self, job_id: str) -> bool:
        """True if the job was flagged as cancelled (as of the last refresh)."""
        return job_id in self._flagged
