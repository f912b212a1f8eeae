"""The PostgreSQL LISTEN thread's reconnect backoff, against a scripted connection (no server)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from queuekit_sql.wakeup import Listener, Waker

from tests.support import wait_until


class _Connection:
    """Listens once, then fails the way a reset connection does."""

    autocommit = False

    def __init__(self, listens: list[int]) -> None:
        self._listens = listens

    def execute(self, _sql: str) -> None:
        self._listens.append(1)

    def notifies(self, timeout: float) -> Iterator[Any]:
        raise OSError("connection reset by peer")

    def close(self) -> None:
        """Nothing to close."""


def _pauses(caplog: pytest.LogCaptureFixture) -> list[float]:
    return [float(record.args[1]) for record in caplog.records  # type: ignore[index]
            if record.getMessage().startswith("LISTEN connection failed")]


def test_backoff_starts_over_after_a_listen_succeeds(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="queuekit.sql")
    script = ["refuse"] * 4 + ["listen"] + ["refuse"] * 2 + ["listen"]
    listens: list[int] = []
    lock = threading.Lock()

    def connect() -> _Connection:
        with lock:
            step = script.pop(0) if script else "refuse"
        if step == "refuse":
            raise ConnectionRefusedError("refused")
        return _Connection(listens)

    listener = Listener(connect, "queuekit_test", Waker(), first_pause=0.001, max_pause=0.004)
    listener.start()
    try:
        wait_until(lambda: len(listens) == 2 and len(_pauses(caplog)) >= 8, timeout=10, what="two LISTENs")
    finally:
        listener.stop()
    # 4 refusals grow the pause to its cap; the reset after a LISTEN starts at the first
    # pause again, and so does the reset after the second LISTEN.
    assert _pauses(caplog)[:8] == [0.001, 0.002, 0.004, 0.004, 0.001, 0.002, 0.004, 0.001]
