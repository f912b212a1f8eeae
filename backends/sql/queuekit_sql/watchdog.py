"""A read timeout for drivers that have none: cut a connection whose statement waits too long.

psycopg waits for the server's answer as long as it takes, and a server (or a network
path) that went silent without closing the connection holds the caller forever: TCP
keepalives do not help while the peer's kernel still acknowledges. The watchdog is one
thread per :class:`~queuekit_sql.database.Database` that checks the statements in flight
and shuts down the socket of one that has waited past ``read_timeout``; the driver then
sees a closed connection, the database layer discards it and retries once on a fresh one
(or reports :class:`~queuekit.errors.ConnectionLost`). A statement that is known to be long
(vacuum, schema upgrades, purges) runs unwatched.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

log = logging.getLogger("queuekit.sql")

Socket = Callable[[], int]  # the file descriptor of a connection's socket, read when it is cut


class Watch:
    """One watched statement: ``cut`` is True once the watchdog shut its connection."""

    __slots__ = ("cut", "deadline", "fileno")

    def __init__(self, fileno: Socket, deadline: float) -> None:
        self.fileno = fileno
        self.deadline = deadline
        self.cut = False


class Watchdog:
    """Cuts connections whose statements wait longer than ``limit`` seconds."""

    def __init__(self, limit: float, where: str) -> None:
        self.limit = limit
        self.where = where
        self._watches: dict[int, Watch] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False

    @contextlib.contextmanager
    def watching(self, fileno: Socket) -> Iterator[Watch]:
        """Watch the statements run inside the block on the connection whose socket ``fileno`` gives."""
        watch = Watch(fileno, time.monotonic() + self.limit)
        key = next(self._ids)
        if self._pid != os.getpid():  # forked: the parent's thread (which may have held the lock) is gone
            self._lock, self._watches, self._thread = threading.Lock(), {}, None
        with self._lock:
            self._ensure_thread()
            self._watches[key] = watch
        try:
            yield watch
        finally:
            with self._lock:  # after this, the connection is never cut for this statement
                self._watches.pop(key, None)

    def close(self) -> None:
        """Stop the thread."""
        self._closed = True
        self._wake.set()

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid() and not self._closed:
            return  # (used again after close: a new thread; a closing one may run a last harmless round)
        self._pid = os.getpid()  # a forked child starts a thread of its own
        self._closed = False
        self._wake.clear()
        self._thread = threading.Thread(target=self._run, name="queuekit-sql-watchdog", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        tick = min(1.0, max(self.limit / 4, 0.05))
        while not self._closed:
            self._wake.wait(tick)
            now = time.monotonic()
            with self._lock:
                for watch in self._watches.values():
                    if not watch.cut and now >= watch.deadline:
                        watch.cut = True
                        _shut(watch.fileno, self.where, self.limit)


def _shut(fileno: Socket, where: str, limit: float) -> None:
    """Shut the socket down for both directions: the waiting driver sees the connection closed."""
    try:
        fd = fileno()
        if fd < 0:
            return
        with socket.socket(fileno=os.dup(fd)) as sock:  # a duplicate: closing it leaves the driver's fd alone
            sock.shutdown(socket.SHUT_RDWR)
    except Exception as exc:  # closed meanwhile (the driver raises its own error for a closed socket)
        log.debug("could not cut a silent connection to %s: %s", where, exc)
        return
    log.debug("no answer from %s within read_timeout=%gs: connection cut", where, limit)
