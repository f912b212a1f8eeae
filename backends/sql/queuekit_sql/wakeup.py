"""Waking idle blocking reserves: a process-wide condition, and LISTEN on PostgreSQL.

Correctness never depends on a wake-up: a blocked reserve polls with a short backoff
capped at ``poll_max``. A wake-up only cuts the wait. Enqueues from the same process
(on any broker for the same tables) notify a shared condition at once; on PostgreSQL a
listener thread turns ``NOTIFY`` from other processes into the same signal. Payloads
carry at most a queue name, never a job.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, ClassVar

from queuekit.retry import Backoff

log = logging.getLogger("queuekit.sql")


class Waker:
    """A generation counter under a condition: waiters wake when it moves."""

    _shared: ClassVar[dict[str, Waker]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0

    @classmethod
    def for_tables(cls, identity: str) -> Waker:
        """The one waker of this process for a set of tables."""
        with cls._shared_lock:
            return cls._shared.setdefault(identity, cls())

    @property
    def generation(self) -> int:
        """Read before trying, pass to :meth:`wait`: no signal between the two is missed."""
        return self._generation

    def notify(self) -> None:
        """Something may be ready: wake every waiter."""
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> bool:
        """Wait until notified after ``seen`` was read, or ``timeout`` seconds; True if notified."""
        with self._cond:
            return self._cond.wait_for(lambda: self._generation != seen, timeout)


class Listener:
    """A thread that LISTENs on a PostgreSQL channel and notifies a :class:`Waker`.

    It holds its own connection (not one of the pool's), reconnects after errors with a
    backoff from ``first_pause`` doubling to ``max_pause``, back to ``first_pause`` once a
    LISTEN is in place again (a reset an hour after the last one is retried at once), and
    waits in short slices so :meth:`stop` is prompt.
    """

    def __init__(self, connect: Any, channel: str, waker: Waker, *, first_pause: float = 0.1,
                 max_pause: float = 5.0) -> None:
        self._connect = connect
        self._channel = channel  # fixed-format name built by Names: queuekit_<hex>
        self._waker = waker
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="queuekit-sql-listen", daemon=True)
        self._backoff = Backoff(first_pause, max_pause, jitter=False)
        self.pid = os.getpid()

    def start(self) -> None:
        """Start listening; returns once the first LISTEN is in place (or failed)."""
        self._thread.start()
        self._ready.wait(5.0)

    def stop(self) -> None:
        """Stop the thread and close its connection."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # keep trying; reserves fall back to polling meanwhile
                pause = self._backoff.next()
                log.warning("LISTEN connection failed (%s); retrying in %.1fs", type(exc).__name__, pause)
                self._ready.set()
                self._stop.wait(pause)

    def _listen(self) -> None:
        connection = self._connect()
        try:
            connection.autocommit = True
            connection.execute(f'LISTEN "{self._channel}"')
            self._backoff.reset()  # listening again: the next failure is retried promptly
            self._ready.set()
            self._waker.notify()  # anything sent while we were away: look again
            while not self._stop.is_set():
                for _ in connection.notifies(timeout=0.5):
                    self._waker.notify()
        finally:
            try:
                connection.close()
            except Exception as exc:
                log.debug("closing LISTEN connection: %s", exc)
