"""Queue depth samples kept in memory, and the rates derived from them.

The Broker protocol reports depths (``stats()``), not counts of jobs enqueued or finished,
so the rates are derived from how the backlog of each queue (ready + delayed + in flight)
moves between two samples:

- ``in_rate``: jobs that arrived, at least: the backlog's rises, summed over the window,
  per second;
- ``out_rate``: jobs that left the queue (finished, or dead-lettered), at least: the
  backlog's falls, summed over the window, per second.

Both are lower bounds: arrivals and departures inside one sampling interval cancel out, so
a queue whose workers keep up with its producers shows rates near zero and a flat backlog.
A requeue of dead letters counts as an arrival. Samples live in this process only: the
history starts when the dashboard starts.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from queuekit.broker import QueueStats

WINDOW = 30.0  # seconds of samples the rates average over
KEEP = 150  # samples kept: five minutes at one every two seconds


@dataclass(frozen=True)
class Sample:
    """The depths of every queue at one moment."""

    at: float
    stats: Mapping[str, QueueStats]


def backlog(stats: QueueStats) -> int:
    """Jobs a queue still holds that are not dead: ready, delayed and in flight."""
    return stats.ready + stats.delayed + stats.in_flight


class Rates:
    """A ring of samples, thread-safe; one sample at most every ``min_gap`` seconds."""

    def __init__(self, *, min_gap: float = 1.0, keep: int = KEEP, clock: Callable[[], float] = time.monotonic) -> None:
        self.min_gap = min_gap
        self._clock = clock
        self._samples: deque[Sample] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def add(self, stats: Mapping[str, QueueStats]) -> bool:
        """Record a sample unless the last one is younger than ``min_gap``; True if recorded."""
        now = self._clock()
        with self._lock:
            if self._samples and now - self._samples[-1].at < self.min_gap:
                return False
            self._samples.append(Sample(now, dict(stats)))
            return True

    def samples(self) -> list[Sample]:
        """The samples kept, oldest first."""
        with self._lock:
            return list(self._samples)

    def for_queue(self, queue: str, window: float = WINDOW) -> dict[str, object]:
        """``in_rate`` and ``out_rate`` (jobs/s, None before two samples) and the backlog history."""
        samples = self.samples()
        history = [backlog(s.stats.get(queue, QueueStats())) for s in samples]
        recent = [s for s in samples if s.at >= samples[-1].at - window] if samples else []
        if len(recent) < 2:
            return {"in_rate": None, "out_rate": None, "history": history}
        levels = [backlog(s.stats.get(queue, QueueStats())) for s in recent]
        steps = [after - before for before, after in itertools.pairwise(levels)]
        span = recent[-1].at - recent[0].at
        return {
            "in_rate": round(sum(step for step in steps if step > 0) / span, 2),
            "out_rate": round(-sum(step for step in steps if step < 0) / span, 2),
            "history": history,
        }


class Sampler:
    """A daemon thread that samples ``read()`` every ``interval`` seconds into ``rates`` until stopped."""

    def __init__(self, read: Callable[[], Mapping[str, QueueStats]], rates: Rates, interval: float = 2.0) -> None:
        self.read = read
        self.rates = rates
        self.interval = interval
        self.error: str | None = None  # the last failure to read, shown on the overview
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="queuekit-dashboard-sampler", daemon=True)

    def start(self) -> None:
        """Start sampling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.rates.add(self.read())
                self.error = None
            except Exception as exc:  # a broker that is down for a while: keep sampling, show why
                self.error = f"{type(exc).__name__}: {exc}"
            self._stop.wait(self.interval)


FINISHED = ("ack", "dead")  # the worker's settlement counts that end a job (retry and release do not)


class WorkerRates:
    """Jobs each live worker finished per second, from the counts its heartbeats carry.

    A heartbeat (every few seconds) carries the worker's running totals; the rate is the
    growth of ``ack`` + ``dead`` between two heartbeats of the same worker over the time
    between them. Unlike the depth-derived rates these are exact, for the workers alive.
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, int, float | None]] = {}  # id: (seen_at, finished, rate)
        self._lock = threading.Lock()

    def update(self, workers: list[dict[str, object]]) -> dict[str, float | None]:
        """Each listed worker's rate (None before its second heartbeat); forget workers no longer listed."""
        rates: dict[str, float | None] = {}
        with self._lock:
            for worker in workers:
                key, seen = str(worker["id"]), float(str(worker["seen_at"]))
                counts = worker.get("counts")
                finished = sum(int(counts.get(name, 0)) for name in FINISHED) if isinstance(counts, dict) else 0
                before = self._last.get(key)
                rate = before[2] if before is not None else None
                if before is not None and seen > before[0]:
                    rate = round(max(finished - before[1], 0) / (seen - before[0]), 2)
                if before is None or seen > before[0]:
                    self._last[key] = (seen, finished, rate)
                rates[key] = rate
            for gone in set(self._last) - set(rates):
                del self._last[gone]
        return rates
