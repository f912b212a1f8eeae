"""A peer's worker as a subprocess in its own process group, stopped with its children."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


class WorkerProcess:
    """``command`` started in a new session; :meth:`stop` signals the whole group it leads."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("a")
        self.process = subprocess.Popen(list(command), env=dict(env), stdin=subprocess.DEVNULL, stdout=self._out,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def exited(self) -> str | None:
        """None while running; else a reason with the tail of its log."""
        code = self.process.poll()
        if code is None:
            return None
        tail = self.log.read_text(errors="replace")[-400:].strip() if self.log.exists() else ""
        return f"the worker exited with code {code}" + (f" ({tail})" if tail else "")

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the group (a graceful stop for every CLI here), SIGKILL it after ``grace`` seconds."""
        try:
            if self.process.poll() is None:
                self._signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    self._signal(signal.SIGKILL)
                    self.process.wait(timeout=grace)
            self._signal(signal.SIGKILL)  # children the leader left behind (a forked worker), if any
        finally:
            self._out.close()

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)  # the group this process leads: only what we started
