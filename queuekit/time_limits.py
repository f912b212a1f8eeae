"""Time limits for tasks running on threads.

A thread cannot be killed, but CPython can raise an exception in it at its next
bytecode: one watchdog thread keeps the deadlines and raises
:class:`TimeLimitExceeded` in a thread whose task overran. Code blocked inside a C
call (a socket read without a timeout) notices only when the call returns.
"""

from __future__ import annotations

import ctypes
import heapq
import threading
import time

from queuekit.errors import TimeLimitExceeded

_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)


class Watchdog:
    """Raises :class:`TimeLimitExceeded` in threads that pass their deadline."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._deadlines: list[tuple[float, int, int]] = []
        self._armed: dict[int, int] = {}  # thread id -> token of its current arming
        self._token = 0
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float) -> int:
        """Start the clock for the calling thread; return a token for :meth:`disarm`."""
        tid = threading.get_ident()
        with self._lock:
            self._token += 1
            self._armed[tid] = self._token
            heapq.heappush(self._deadlines, (time.monotonic() + seconds, self._token, tid))
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="queuekit-watchdog", daemon=True)
                self._thread.start()
            self._lock.notify()
            return self._token

    def disarm(self, token: int) -> None:
        """Stop the clock started by :meth:`arm` with ``token``."""
        with self._lock:
            tid = threading.get_ident()
            if self._armed.get(tid) == token:
                del self._armed[tid]

    def _watch(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                while self._deadlines and self._deadlines[0][0] <= now:
                    _, token, tid = heapq.heappop(self._deadlines)
                    if self._armed.get(tid) == token:
                        del self._armed[tid]
                        _set_async_exc(tid, TimeLimitExceeded)
                timeout = self._deadlines[0][0] - now if self._deadlines else None
                self._lock.wait(timeout)
