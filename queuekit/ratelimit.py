"""Rate limits per task: ``@app.task(rate_limit="100/s")``, shared by every worker that shares state.

The limit is a GCRA cell (the "theoretical arrival time" of the next start) kept in the
app's shared state under ``rate:<task>`` and advanced by compare-and-set, so starts are
spaced ``period / count`` apart across all workers and processes: global where the
broker (or result store) declares ``key_value`` and other processes share it, per
process otherwise. A job takes the next free slot if it is at most ``HORIZON`` seconds
away and waits for it on its thread; a job whose slot is further away goes back to the
broker, delayed until about then, without spending an attempt. Starts are on each
worker's wall clock: keep the workers' clocks in sync (NTP) for an exact spacing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from queuekit.errors import ConfigurationError

if TYPE_CHECKING:
    from queuekit.broker import KeyValue

HORIZON = 1.0  # seconds ahead a job may book its start and wait for it
_PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*([smhd])\s*$")
_CONTENTION = 50  # compare-and-set attempts before giving up on a slot for now


@dataclass(frozen=True)
class RateLimit:
    """``count`` starts per ``period`` seconds, spaced evenly."""

    count: float
    period: float

    @property
    def interval(self) -> float:
        """Seconds between two starts."""
        return self.period / self.count

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """``"100/s"``, ``"10/m"``, ``"1000/h"`` or ``"5/d"``; a clear error otherwise."""
        match = _RATE.match(text) if isinstance(text, str) else None
        if match is None or float(match.group(1)) <= 0:
            raise ConfigurationError(
                f"rate_limit {text!r} is not a rate: write a positive count per s, m, h or d, e.g. '100/s' or '10/m'"
            )
        return cls(float(match.group(1)), _PERIODS[match.group(2)])


def book(store: KeyValue, name: str, limit: RateLimit, now: float) -> tuple[bool, float]:
    """Book the next start of ``name``: ``(True, wait)`` with the seconds to wait for the slot, or
    ``(False, wait)`` when the next slot is more than :data:`HORIZON` away (nothing is booked).
    """
    key = f"rate:{name}"
    interval = limit.interval
    wait = 0.0
    for _ in range(_CONTENTION):
        raw = store.kv_get(key)
        start = max(float(raw), now) if raw is not None else now
        wait = start - now
        if wait > HORIZON:
            return False, wait
        booked = repr(start + interval).encode()
        ttl = wait + interval + 1.0
        written = (store.kv_set(key, booked, ttl=ttl, if_equal=raw) if raw is not None
                   else store.kv_set(key, booked, ttl=ttl, if_absent=True))
        if written:
            return True, wait
    return False, max(wait, interval)
