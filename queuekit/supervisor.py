"""Runs several worker processes and keeps them running (``--processes N``).

Each child is a complete worker (``queuekit worker ... --processes 1``). The
supervisor forwards SIGTERM and SIGINT to its children, restarts a child that dies
unexpectedly (with capped backoff, so a crashing app does not spin), and exits when
every child has exited: with 0 if all stopped cleanly.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import FrameType

from queuekit.retry import Backoff

log = logging.getLogger("queuekit.supervisor")

_STABLE = 60.0  # seconds a child must have run for its exit not to count towards the backoff


class Supervisor:
    """Keeps ``count`` copies of a worker command running until told to stop."""

    def __init__(
        self, count: int, argv: Sequence[str], *, burst: bool = False,
        env: Mapping[str, str] | None = None, on_exit: Callable[[int], None] | None = None,
    ) -> None:
        self.count = count
        self.env = {**os.environ, **env} if env else None  # added to the children's environment
        self.on_exit = on_exit  # called with the pid of each child that exited
        self.argv = list(argv)
        self.burst = burst
        self.stopping = threading.Event()
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self.backoff = Backoff(1.0, 10.0)  # restart pauses; reset by a child that ran for a while
        self.started: dict[int, float] = {}

    def start_child(self, slot: int) -> None:
        """Start (or restart) the worker in ``slot``."""
        self.children[slot] = subprocess.Popen(self.argv, env=self.env)
        self.started[slot] = time.monotonic()
        log.info("started worker process %d (pid %d)", slot, self.children[slot].pid)

    def forward(self, signum: int) -> None:
        """Pass a signal on to every running child."""
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signum)

    def run(self) -> int:
        """Supervise until every child has exited; return the exit code."""
        for slot in range(self.count):
            self.start_child(slot)
        worst = 0
        while self.children:
            for slot, child in list(self.children.items()):
                code = child.poll()
                if code is None:
                    continue
                del self.children[slot]
                if self.on_exit is not None:
                    self.on_exit(child.pid)
                if self.stopping.is_set() or (self.burst and code == 0):
                    worst = max(worst, code)
                    continue
                if time.monotonic() - self.started[slot] >= _STABLE:
                    self.backoff.reset()  # it had been running fine: restart it promptly
                pause = self.backoff.next()
                log.warning("worker process %d exited with %d; restarting in %.1fs", slot, code, pause)
                if self.stopping.wait(pause):
                    continue
                self.start_child(slot)
            self.stopping.wait(0.2)
        return worst


def supervise(
    count: int, argv: Sequence[str], *, burst: bool = False,
    env: Mapping[str, str] | None = None, on_exit: Callable[[int], None] | None = None,
) -> int:
    """Run a supervisor with signal forwarding; return its exit code (``env``, ``on_exit``: see :class:`Supervisor`)."""
    supervisor = Supervisor(count, argv, burst=burst, env=env, on_exit=on_exit)

    def handle(signum: int, frame: FrameType | None) -> None:
        supervisor.stopping.set()
        supervisor.forward(signum)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    started = time.monotonic()
    try:
        return supervisor.run()
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        log.info("supervisor stopped after %.0fs", time.monotonic() - started)
