"""One dedicated connection per thread for single commands: the hot path.

redis-py's pooled ``execute_command`` checks a connection out and back in, wraps the
call in a retry object and records metrics: about as much client time as the round
trip itself. A worker's fetcher and acker threads (and each producer thread) instead
keep one connection each and write and read on it directly. A connection idle for a
while is checked for a server-side close before use, as the pool would.

Commands are packed by hiredis in one call: redis-py's packer encodes each argument
through a Python generator first, which for a script call of 15 arguments cost about
seven times hiredis's packing (26 us against 3.6 us) and was the largest client-side
cost of ``task.delay()``. The bytes on the wire are the same.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Any

import redis
from hiredis import pack_command

from queuekit_redis.errors import NETWORK_ERRORS

IDLE_CHECK = 0.25  # seconds unused after which a connection is checked before use


# redis-py's Connection methods are untyped: held as Any.
Connection = Any


class _Held:
    __slots__ = ("connection", "pid", "used")

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.pid = os.getpid()
        self.used = time.monotonic()


class Wire:
    """Per-thread connections made by one pool; :meth:`close` disconnects them all."""

    def __init__(self, pool: redis.ConnectionPool) -> None:
        self._pool = pool
        self._local = threading.local()
        self._all: weakref.WeakSet[Connection] = weakref.WeakSet()  # a dead thread's goes with it
        self._lock = threading.Lock()

    def _held(self) -> _Held:
        held: _Held | None = getattr(self._local, "held", None)
        if held is None or held.pid != os.getpid():  # new thread, or a forked child: never share a socket
            connection = self._pool.connection_class(**self._pool.connection_kwargs)
            held = self._local.held = _Held(connection)
            with self._lock:
                self._all.add(connection)
        return held

    def command(self, *parts: Any, wait: float = 0.0) -> Any:
        """Send one command and return its reply; errors are redis-py's.

        ``wait``: seconds the server may legitimately hold the reply (a BLPOP's timeout);
        the read then waits that long plus the socket timeout, so a slow machine never
        mistakes the end of a long block for a silent server.
        """
        held = self._held()
        connection = held.connection
        if time.monotonic() - held.used > IDLE_CHECK:
            self._check(connection)
        try:
            packed = pack_command(parts)
        except TypeError as exc:  # what redis-py raises for an argument it cannot send
            raise redis.DataError(f"{exc} (command {parts[0]!r})") from None
        try:
            connection.send_packed_command((packed,), check_health=False)
            limit = connection.socket_timeout
            reply = connection.read_response(timeout=limit + wait) if wait > 0 and limit else connection.read_response()
        except NETWORK_ERRORS:
            connection.disconnect()
            raise
        held.used = time.monotonic()
        return reply

    @staticmethod
    def _check(connection: Connection) -> None:
        """Drop a connection the server closed (restart, idle timeout) before using it."""
        try:
            if connection.can_read():
                connection.disconnect()  # unexpected data or EOF: start afresh
        except NETWORK_ERRORS:
            connection.disconnect()

    def close(self) -> None:
        """Disconnect every connection this wire made (they reconnect on next use)."""
        with self._lock:
            connections = list(self._all)
        for connection in connections:
            connection.disconnect()
