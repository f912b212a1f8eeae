"""A clock the tests move by hand, for brokers that accept an injected ``clock=``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]


class FakeClock:
    """Wall-clock seconds that only move when :meth:`advance` is called. Thread-safe.

    It starts at the current whole second, so timestamps look like real ones to
    backends that store them.
    """

    def __init__(self, start: float | None = None) -> None:
        self._now = float(int(time.time())) if start is None else float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def __repr__(self) -> str:
        return f"<FakeClock {self():.3f}>"

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (never backwards); return the new time."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward, got {seconds}")
        with self._lock:
            self._now += seconds
            return self._now
