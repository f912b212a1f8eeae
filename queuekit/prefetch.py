"""How many jobs a worker holds, and when it asks the broker for more.

A worker holds the jobs it runs plus a buffer, so that its threads never wait on the
broker's round trip. The buffer's size is a trade: too small, and a fast queue is
drained a few jobs per round trip; too large, and one worker hoards jobs that others
could have run, and a high-priority job waits behind the buffer.

With no ``prefetch`` given, the buffer holds about ``window`` seconds of work at the
rate jobs are finishing (never less than ``3 x concurrency``, Celery's default multiplier,
never more than ``ceiling``). Slow jobs keep the buffer small; no-op jobs grow it to
hundreds, so each reserve and each ack moves hundreds of rows, and nothing waits in a
buffer for more than about ``window`` seconds. A fixed ``prefetch`` is used as given.

The fetcher refills in batches: it waits until at least :meth:`Prefetch.batch_min`
slots are free (half the capacity, but never so many that a thread would idle while
a buffered job waits), then reserves up to half the capacity in one call. Two batches
fit: while one runs and is acknowledged, the next is already on its way, so the
broker's round trips overlap the work instead of alternating with it.
"""

from __future__ import annotations

import time

WINDOW = 0.1  # seconds of work a worker may hold beyond what it runs
CEILING = 1024  # most jobs a worker buffers beyond concurrency, whatever the rate
_SAMPLE = 0.02  # seconds between rate samples
_STALE = 0.25  # seconds without a sample after which the rate can only have fallen


class Prefetch:
    """The buffer size of one worker: fixed, or following the completion rate."""

    __slots__ = ("_count", "_since", "ceiling", "concurrency", "fixed", "floor", "rate", "window")

    def __init__(self, concurrency: int, fixed: int | None = None, *, window: float = WINDOW,
                 ceiling: int = CEILING) -> None:
        self.concurrency = concurrency
        self.fixed = None if fixed is None else max(fixed, 0)
        self.window = window
        self.floor = 3 * concurrency
        self.ceiling = max(ceiling, self.floor)
        self.rate = 0.0  # jobs settled per second, smoothed
        self._count = 0
        self._since = time.monotonic()

    @property
    def prefetch(self) -> int:
        """Jobs held beyond concurrency, now."""
        if self.fixed is not None:
            return self.fixed
        return min(self.ceiling, max(self.floor, int(self.current_rate() * self.window)))

    def current_rate(self) -> float:
        """The smoothed rate, capped by what finished since the last sample if that was long ago.

        A worker that sat idle after a burst of no-op jobs must not greet the next burst,
        perhaps of slow jobs, with a buffer sized for the old rate.
        """
        elapsed = time.monotonic() - self._since
        if elapsed < _STALE:
            return self.rate
        return min(self.rate, self._count / elapsed)

    @property
    def capacity(self) -> int:
        """Jobs held in all (running, buffered, finished but not yet acknowledged)."""
        return self.concurrency + self.prefetch

    def batch_min(self, capacity: int) -> int:
        """Free slots worth a reserve: half of ``capacity``, but at most the buffer itself.

        Waiting for more free slots than the buffer holds could leave a thread idle.
        """
        return max(1, min(capacity // 2, capacity - self.concurrency))

    def batch_max(self, capacity: int) -> int:
        """The most one reserve asks for: half of ``capacity``, so that two batches fit.

        While one batch runs and is acknowledged, the next is already being fetched. A
        buffer smaller than ``concurrency`` is filled in one reserve: split, its refills
        only add round trips (and in the poison fault test, a 2 + 1 split of a 3-job
        capacity kept a retried job in the same claims as the job that kills its worker).
        """
        if capacity - self.concurrency < self.concurrency:
            return capacity
        return max(capacity // 2, self.concurrency)

    def wanted(self, held: int) -> int:
        """How many jobs to reserve with ``held`` in flight; 0: not yet."""
        capacity = self.capacity
        free = capacity - held
        return min(free, self.batch_max(capacity)) if free >= self.batch_min(capacity) else 0

    def settled(self, count: int) -> None:
        """Record ``count`` finished jobs (called by the acker after each batch)."""
        self._count += count
        now = time.monotonic()
        elapsed = now - self._since
        if elapsed >= _SAMPLE:
            sample = self._count / elapsed
            # After a long gap the old rate says nothing about the new jobs: start afresh.
            # A rising rate is taken at once (a buffer that is too small caps the rate it
            # can show, so smoothing would slow the climb); a falling one is smoothed.
            fresh = self.rate == 0.0 or elapsed >= _STALE or sample > self.rate
            self.rate = sample if fresh else 0.5 * self.rate + 0.5 * sample
            self._count = 0
            self._since = now
