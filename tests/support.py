"""Helpers for tests: waiting on conditions with a deadline (never bare sleeps), skipping a
test whose service is missing (a failure in CI), ledgers and the processes a test started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import pytest

REQUIRE_SERVICES = "QUEUEKIT_REQUIRE_SERVICES"


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``predicate`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pause = 0.005
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


# pytest exposes its Skipped class only as the attribute pytest.skip.Exception, which mypy
# cannot see as a class.
class ServiceUnavailable(pytest.skip.Exception):  # type: ignore[misc,name-defined]
    """The skip raised by :func:`service_unavailable`; tests/conftest.py lists these skips by type."""


def services_required() -> bool:
    """True under ``QUEUEKIT_REQUIRE_SERVICES=1`` (CI: .ci/run), where a missing service fails."""
    return os.environ.get(REQUIRE_SERVICES) == "1"


def service_unavailable(reason: str) -> NoReturn:
    """Skip the current test because a server, tool or driver it needs is missing.

    Under ``QUEUEKIT_REQUIRE_SERVICES=1`` the test fails instead, with the same reason: CI
    has every service, so a missing one is a broken run, never a quiet skip. Every test
    that needs a service says so through this one function, never with ``pytest.skip``.
    """
    if services_required():  # from None: the reason says it all, without the probe's traceback
        raise pytest.fail.Exception(f"service required ({REQUIRE_SERVICES}=1) but unavailable: {reason}",
                                    pytrace=False) from None
    raise ServiceUnavailable(f"service unavailable: {reason}", allow_module_level=True) from None


def append_line(path: str | os.PathLike[str], line: str) -> None:
    """Append one line to a ledger file with a single O_APPEND write (safe from several processes)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def stop_processes(procs: Sequence[subprocess.Popen[Any]], timeout: float = 30) -> None:
    """SIGTERM every process of this test still running, wait for each, SIGKILL any that hangs."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class BlackHole:
    """A TCP server of the test's own that accepts connections and never reads or answers.

    It stands for a broker whose host is up but whose server hangs (or a firewall that
    lets the handshake through): a client connects at once, then waits for a reply that
    never comes. :meth:`close` (or leaving the ``with`` block) closes every socket.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port: int = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="test-black-hole", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                self._held.append(client)  # kept open, never read: the peer waits forever

    @property
    def accepted(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return len(self._held)

    def url(self, scheme: str, credentials: str = "", path: str = "") -> str:
        """A broker URL pointing here, e.g. ``url("redis")`` or ``url("postgresql", "u:pw", "/test")``."""
        userinfo = f"{credentials}@" if credentials else ""
        return f"{scheme}://{userinfo}127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        """Close the listener and every accepted connection."""
        self._listener.close()
        with self._lock:
            held, self._held = self._held, []
        for sock in held:
            sock.close()

    def __enter__(self) -> BlackHole:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
