"""Retry delays: exponential backoff with jitter, capped."""

from __future__ import annotations

import random


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
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 62))
    draw = (rng or random).random()
    return ceiling / 2 + draw * ceiling / 2
