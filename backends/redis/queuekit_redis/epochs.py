"""Noticing lost queue data: each queue's epoch, compared with the one this client saw.

A queue's info hash holds an epoch, written by the first script that finds none (this
client's ``candidate`` token plus the server's microseconds). A server that lost its data
(restarted without persistence, flushed) starts a new epoch, which every client that knew
the old one sees on its next enqueue or reserve: that is a :class:`StateReset`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("queuekit.redis")


@dataclass(frozen=True)
class StateReset:
    """A queue whose data the server lost, as one client noticed it."""

    queue: str
    old_epoch: str
    new_epoch: str
    detected_at: float
    last_known_backlog: int | None


class Epochs:
    """The epochs this client saw, the losses it noticed, and the last known depth per queue.

    ``register(queue)`` adds a queue to the server's list of known queues; it is called
    the first time this client sees a queue, and again whenever a script created its epoch.
    """

    def __init__(self, where: str, register: Callable[[str], object]) -> None:
        self.where = where
        self.candidate = uuid.uuid4().hex  # the epoch this client writes for a queue that has none
        self.resets: list[StateReset] = []
        self.backlog: dict[str, int] = {}  # last known depth per queue (from stats)
        self._register = register
        self._known: dict[str, bytes] = {}
        self._registered: set[str] = set()
        self._lock = threading.Lock()

    def observe(self, queue: str, epoch: bytes, created: int) -> None:
        """Compare a queue's epoch, as a script returned it, with the one seen before; log a loss."""
        if created or queue not in self._registered:
            self._register(queue)
            self._registered.add(queue)
        known = self._known.get(queue)
        if known == epoch:
            return
        self._known[queue] = epoch
        if known is None:
            return
        reset = StateReset(queue, known.decode(), epoch.decode(), time.time(), self.backlog.get(queue))
        self.resets.append(reset)
        backlog = "unknown" if reset.last_known_backlog is None else str(reset.last_known_backlog)
        log.error(
            "redis at %s lost the data of queue %r (epoch %s gone, now %s): jobs queued or running before are "
            "lost (last known backlog: %s); configure persistence (appendonly yes) to keep them",
            self.where, queue, reset.old_epoch, reset.new_epoch, backlog,
        )

    def forget(self, queue: str) -> None:
        """A deleted queue: its epoch, registration and backlog are no longer known to this client."""
        with self._lock:
            self._known.pop(queue, None)
            self._registered.discard(queue)
            self.backlog.pop(queue, None)
