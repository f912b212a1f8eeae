"""Everything a run created, so that an error or Ctrl-C can take it all down again."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable

log = logging.getLogger("queuekit_bench")


class Cleanup:
    """A stack of undo actions plus the child processes started; run in reverse order."""

    def __init__(self) -> None:
        self._actions: list[tuple[str, Callable[[], object]]] = []
        self._processes: dict[int, subprocess.Popen[str]] = {}
        self._lock = threading.Lock()

    def add(self, what: str, action: Callable[[], object]) -> None:
        """Remember how to undo something (``what`` names it in warnings)."""
        with self._lock:
            self._actions.append((what, action))

    def track(self, process: subprocess.Popen[str]) -> None:
        """Remember a child process; it is killed (by its pid) at cleanup if still running."""
        with self._lock:
            self._processes[process.pid] = process

    def forget(self, process: subprocess.Popen[str]) -> None:
        """A child that has been reaped needs no cleanup."""
        with self._lock:
            self._processes.pop(process.pid, None)

    @property
    def processes(self) -> list[subprocess.Popen[str]]:
        """Child processes still tracked."""
        with self._lock:
            return list(self._processes.values())

    def run(self) -> None:
        """Kill tracked children, then undo everything, newest first. Never raises."""
        for process in self.processes:
            stop_process(process)
            self.forget(process)
        while True:
            with self._lock:
                if not self._actions:
                    return
                what, action = self._actions.pop()
            try:
                action()
            except Exception as exc:  # cleanup goes on; the user is told what is left
                log.warning("cleanup of %s failed: %s", what, exc)


def stop_process(process: subprocess.Popen[str], grace: float = 3.0) -> None:
    """SIGTERM a child we started, then SIGKILL it by pid if it does not exit in time."""
    if process.poll() is not None:
        return
    try:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)
    except ProcessLookupError:
        pass
