"""Worker heartbeats: which workers are alive, what they consume and how busy they are.

Each running worker writes a small JSON record (``worker:<id>``) to the app's shared
state every few seconds with a time to live of three beats; a worker that stops deletes
it, one that dies drops out when it expires. :func:`live_workers` lists them.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from queuekit.app import App

PREFIX = "worker:"
BEAT = 5.0  # seconds between heartbeats
TTL = 3 * BEAT


@dataclass(frozen=True)
class WorkerInfo:
    """One live worker as its last heartbeat described it."""

    id: str
    hostname: str
    pid: int
    queues: tuple[str, ...]
    concurrency: int
    in_flight: int
    started_at: float
    seen_at: float
    counts: Mapping[str, int] = field(default_factory=dict)
    leads_schedules: bool = False

    def encode(self) -> bytes:
        """The record as stored."""
        data = asdict(self)
        data["queues"] = list(self.queues)
        data["counts"] = dict(self.counts)
        return json.dumps(data).encode()

    @classmethod
    def decode(cls, raw: bytes) -> WorkerInfo | None:
        """A stored record, or None if it cannot be read."""
        try:
            data: dict[str, Any] = json.loads(raw)
            data["queues"] = tuple(data["queues"])
            return cls(**data)
        except (ValueError, TypeError, KeyError):
            return None


def describe(worker_id: str, queues: Sequence[str], concurrency: int, in_flight: int, started_at: float,
             counts: Mapping[str, int], leads_schedules: bool) -> WorkerInfo:
    """This process's worker as a record, stamped now."""
    return WorkerInfo(worker_id, socket.gethostname(), os.getpid(), tuple(queues), concurrency, in_flight,
                      started_at, time.time(), dict(counts), leads_schedules)


def beat(app: App, info: WorkerInfo) -> None:
    """Write (or refresh) a worker's heartbeat."""
    app.state.store.kv_set(PREFIX + info.id, info.encode(), ttl=TTL)


def forget(app: App, worker_id: str) -> None:
    """Delete a worker's heartbeat (it stopped cleanly)."""
    app.state.store.kv_delete(PREFIX + worker_id)


def live_workers(app: App) -> list[WorkerInfo]:
    """Every worker whose heartbeat has not expired, oldest first."""
    found = (WorkerInfo.decode(raw) for raw in app.state.store.kv_scan(PREFIX).values())
    return sorted((info for info in found if info is not None), key=lambda info: (info.started_at, info.id))
