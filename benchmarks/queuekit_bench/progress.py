"""Progress output on stderr: one line per step, and a live bar on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Reports what the run is doing; ``quiet`` silences everything but warnings."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self._started = time.monotonic()
        self._bar_open = False
        self._last_draw = 0.0

    def _elapsed(self) -> str:
        seconds = int(time.monotonic() - self._started)
        return f"{seconds // 60:02d}:{seconds % 60:02d}"

    def step(self, backend: str, text: str) -> None:
        """A new step of a backend's run."""
        if self.quiet:
            return
        self._close_bar()
        print(f"[{self._elapsed()}] {backend:<12} {text}", file=self.stream, flush=True)

    def warn(self, text: str) -> None:
        """Something the user should know (always shown)."""
        self._close_bar()
        print(f"[{self._elapsed()}] warning: {text}", file=self.stream, flush=True)

    def bar(self, done: int, total: int, label: str = "") -> None:
        """Redraw the live bar (terminals only, at most ten times a second)."""
        if self.quiet or not self.live or total <= 0:
            return
        now = time.monotonic()
        if done < total and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        width = 30
        filled = int(width * min(done, total) / total)
        text = f"\r    [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label}"
        self.stream.write(text[:100])
        self.stream.flush()
        self._bar_open = True

    def _close_bar(self) -> None:
        if self._bar_open:
            self.stream.write("\n")
            self._bar_open = False
