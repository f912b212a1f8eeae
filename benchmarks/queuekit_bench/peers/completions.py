"""Job completions as loopback UDP datagrams: the harness listens, the peer's task sends.

A datagram per completion costs every framework the same (one ``sendto``), needs no shared
state between processes and no broker, and the harness timestamps arrivals with one clock.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable

from queuekit_bench.peers import PORT_ENV

_sender: socket.socket | None = None
_address: tuple[str, int] | None = None


def notify() -> None:
    """Worker side: signal one completion, naming this process, to the port in ``QKBENCH_PEER_PORT``."""
    global _sender, _address
    if _sender is None or _address is None:
        _address = ("127.0.0.1", int(os.environ[PORT_ENV]))
        _sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    _sender.sendto(str(os.getpid()).encode(), _address)


class StalledError(RuntimeError):
    """Completions stopped arriving before the expected count."""


class Completions:
    """Harness side: a UDP socket on 127.0.0.1 and a thread timestamping every datagram."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self._arrivals: list[tuple[float, bytes]] = []  # (time, sender pid); one append per datagram
        self._closed = False
        self._thread = threading.Thread(target=self._listen, name="qkbench-completions", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        receive, stamp, arrivals = self._sock.recv, time.perf_counter, self._arrivals
        while not self._closed:
            try:
                sender = receive(16)
            except TimeoutError:
                continue
            except OSError:
                return
            arrivals.append((stamp(), sender))

    def reset(self) -> None:
        """Forget earlier arrivals (between runs, once the previous worker has stopped)."""
        self._arrivals.clear()

    @property
    def count(self) -> int:
        """Arrivals since the last reset."""
        return len(self._arrivals)

    def wait(self, expected: int, *, stall: float, alive: Callable[[], str | None]) -> list[tuple[float, bytes]]:
        """Block until ``expected`` arrivals, (time, sender) in order; StalledError when none came for
        ``stall`` seconds or ``alive()`` returns a reason (the worker exited)."""
        seen, last_change = -1, time.monotonic()
        while True:
            now = len(self._arrivals)
            if now >= expected:
                return list(self._arrivals[:expected])
            if now != seen:
                seen, last_change = now, time.monotonic()
            gone = alive()
            if gone is not None:
                raise StalledError(f"{gone} after {now} of {expected} completions")
            if time.monotonic() - last_change > stall:
                raise StalledError(f"no completion for {stall:.0f} s after {now} of {expected}")
            time.sleep(0.02)

    def close(self) -> None:
        """Stop listening."""
        self._closed = True
        self._thread.join(timeout=2.0)
        self._sock.close()


def drain_rate(arrivals: list[tuple[float, bytes]]) -> float:
    """Completions per second from the first arrival to the last."""
    if len(arrivals) < 2:
        return 0.0
    return (len(arrivals) - 1) / max(arrivals[-1][0] - arrivals[0][0], 1e-9)


def working_rate(arrivals: list[tuple[float, bytes]]) -> float:
    """Completions per second once every sending process has completed one (worker processes start
    one after the other), to the last arrival; the whole span when fewer than half fall in that window
    (a process that joined at the very end). One sender: the same as :func:`drain_rate`."""
    first: dict[bytes, float] = {}
    for moment, sender in arrivals:
        first.setdefault(sender, moment)
    start = max(first.values(), default=0.0)
    window = [item for item in arrivals if item[0] >= start]
    return drain_rate(window if 2 * len(window) >= len(arrivals) else arrivals)
