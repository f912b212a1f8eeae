"""State-loss records: when a broker loses accepted jobs, say so until someone acknowledges it.

A backend that can tell its server lost data (Redis restarted without persistence: the
queue's epoch changed) declares ``detects_state_loss`` and lists what it noticed in
``resets`` (:class:`~queuekit.broker.StateLossReporter`). The worker's housekeeping thread
turns each new one into a record in the app's shared state (``state_reset:<queue>:<time>``,
no expiry): ``queuekit status`` (text and JSON), the dashboard and the metrics show it until
``queuekit status --ack-reset`` deletes it. The record carries the last backlog the worker
knew, from the queue depths it samples every few seconds. With ``--on-state-loss=exit`` the
worker also stops, exit status 3, so an orchestrator notices.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from queuekit.app import App

PREFIX = "state_reset:"
EXIT_STATUS = 3  # a worker stopped by --on-state-loss=exit


@dataclass(frozen=True)
class StateResetRecord:
    """One loss of a queue's data, as a worker recorded it."""

    queue: str
    detected_at: float
    last_known_backlog: int | None
    broker: str
    seen_by: str  # host and pid of the worker that noticed it

    def encode(self) -> bytes:
        """The record as stored."""
        return json.dumps(asdict(self)).encode()

    @classmethod
    def decode(cls, raw: bytes) -> StateResetRecord | None:
        """A stored record, or None if unreadable."""
        try:
            data: dict[str, Any] = json.loads(raw)
            return cls(**data)
        except (ValueError, TypeError):
            return None

    def describe(self) -> str:
        """One line for logs and ``queuekit status``."""
        backlog = "unknown" if self.last_known_backlog is None else str(self.last_known_backlog)
        return (f"queue {self.queue!r} lost its data at {_when(self.detected_at)} (last known backlog {backlog}, "
                f"seen by {self.seen_by})")


def record(app: App, queue: str, detected_at: float, backlog: int | None) -> StateResetRecord:
    """Store a record of a loss (kept until acknowledged)."""
    found = StateResetRecord(queue, detected_at, backlog, app.redacted_url, f"{socket.gethostname()}:{os.getpid()}")
    app.state.store.kv_set(f"{PREFIX}{queue}:{detected_at!r}", found.encode())
    return found


def records(app: App) -> list[StateResetRecord]:
    """Every unacknowledged record, oldest first."""
    found = (StateResetRecord.decode(raw) for raw in app.state.store.kv_scan(PREFIX).values())
    return sorted((item for item in found if item is not None), key=lambda item: item.detected_at)


def acknowledge(app: App) -> int:
    """Delete every record; return how many there were."""
    store = app.state.store
    return sum(1 for key in store.kv_scan(PREFIX) if store.kv_delete(key))


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))
