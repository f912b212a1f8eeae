"""Backoff: the one place a retry or poll pause is computed.

Two shapes of the same rule (the ceiling doubles from ``base`` up to ``cap``):

- :func:`backoff_delay` gives the pause before attempt ``attempt + 1`` (job retries,
  a producer's reconnect, a settlement that failed);
- :class:`Backoff` counts the failures of a loop itself (a fetch loop, a reconnect loop,
  a supervisor) and starts over from ``base`` after :meth:`Backoff.reset`.
"""

from __future__ import annotations

import random


def _ceiling(attempt: int, base: float, cap: float) -> float:
    return min(cap, base * 2.0 ** min(attempt - 1, 62))


def backoff_delay(
    attempt: int, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait before attempt ``attempt + 1``.

    The ceiling doubles with every attempt (``base``, ``2*base``, ``4*base``...) up to
    ``cap``; the delay is drawn uniformly from the upper half of the ceiling ("equal
    jitter"), so retries spread out without ever coming back immediately.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    ceiling = _ceiling(attempt, base, cap)
    draw = (rng or random).random()
    return ceiling / 2 + draw * ceiling / 2


class Backoff:
    """The pauses of a loop that keeps trying: ``base`` doubling up to ``cap``.

    Each :meth:`next` counts one failure and returns the pause before the next try, with
    equal jitter (as :func:`backoff_delay`) unless ``jitter=False`` (a poll interval, where
    a spread is not needed). :meth:`reset` after a success: the next failure is retried
    promptly again instead of at the cap the last outage reached.
    """

    def __init__(self, base: float, cap: float, *, jitter: bool = True, rng: random.Random | None = None) -> None:
        if not 0 < base <= cap:
            raise ValueError(f"backoff needs 0 < base <= cap, got base={base} cap={cap}")
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self.rng = rng
        self.failures = 0

    def next(self) -> float:
        """Count a failure; the seconds to wait before trying again."""
        self.failures += 1
        if self.jitter:
            return backoff_delay(self.failures, self.base, self.cap, self.rng)
        return _ceiling(self.failures, self.base, self.cap)

    def reset(self) -> None:
        """A success: start again from ``base``."""
        self.failures = 0
