"""Periodic jobs: what a schedule is, when it ticks, and what the scheduler remembers.

A schedule enqueues one job of a task per tick. ``every=`` ticks on whole multiples of
the interval since the epoch (every worker computes the same ticks); ``cron=`` ticks as
the cron expression says in the schedule's time zone, parsed by cronsim (the ``cron``
extra), which keeps daylight-saving switches right: a time skipped by the spring switch
runs once at the next valid minute, a time repeated in autumn runs once.

The schedule's state (last tick enqueued, that job's id) lives in the app's shared
state (:mod:`queuekit.keyvalue`), updated by compare-and-set, so that a tick is
enqueued once however many workers run the scheduler; see :mod:`queuekit.scheduler`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from queuekit.errors import ConfigurationError

if TYPE_CHECKING:
    from queuekit.app import App

CatchUp = Literal["latest", "all", "none"]
CATCH_UP: tuple[str, ...] = ("latest", "all", "none")
MAX_CATCH_UP = 1000  # ticks enqueued at most in one go with catch_up="all"
STATE_PREFIX = "schedule:"


@dataclass(frozen=True)
class Schedule:
    """One periodic job: which task, when, with which arguments, and what to do with missed ticks.

    ``catch_up``: after all workers were down, ``latest`` (default) enqueues the missed
    ticks once, as one job; ``all`` enqueues each missed tick (at most 1,000); ``none``
    skips them and waits for the next tick.
    """

    name: str
    task: str
    every: float | None = None
    cron: str | None = None
    tz: str = "UTC"
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    queue: str | None = None
    catch_up: CatchUp = "latest"

    def __post_init__(self) -> None:
        if (self.every is None) == (self.cron is None):
            raise ConfigurationError(f"schedule {self.name!r}: give every= (seconds) or cron=, exactly one")
        if self.every is not None and not (isinstance(self.every, (int, float)) and self.every > 0):
            raise ConfigurationError(f"schedule {self.name!r}: every= must be a positive number of seconds")
        if self.catch_up not in CATCH_UP:
            raise ConfigurationError(
                f"schedule {self.name!r}: catch_up={self.catch_up!r} is not one of {', '.join(CATCH_UP)}"
            )
        if self.cron is not None:
            self._cron_at(0.0)  # fails now, naming the problem, rather than in the worker

    @property
    def spec(self) -> str:
        """The schedule as people write it: ``every 30s`` or ``cron 0 7 * * mon-fri (Europe/Paris)``."""
        if self.every is not None:
            return f"every {self.every:g}s"
        return f"cron {self.cron} ({self.tz})"

    @property
    def interval(self) -> float:
        """The shortest time between two ticks, as far as a lease or a tolerance needs to know."""
        if self.every is not None:
            return float(self.every)
        first = self.next_after(0.0)
        return max(60.0, self.next_after(first) - first)

    def next_after(self, moment: float) -> float:
        """The first tick strictly after ``moment`` (epoch seconds)."""
        if self.every is not None:
            return (math.floor(moment / self.every) + 1) * self.every
        return next(self._cron_at(moment)).timestamp()

    def last_at_or_before(self, moment: float) -> float:
        """The latest tick at or before ``moment`` (for every=; cron looks one interval back)."""
        if self.every is not None:
            return math.floor(moment / self.every) * self.every
        probe = moment - self.interval * 2
        last = probe
        for tick in self.ticks_between(probe, moment):
            last = tick
        return last

    def ticks_between(self, after: float, until: float) -> Iterator[float]:
        """Every tick in ``(after, until]``, oldest first."""
        tick = self.next_after(after)
        while tick <= until:
            yield tick
            tick = self.next_after(tick)

    def _cron_at(self, moment: float) -> Iterator[dt.datetime]:
        try:
            from cronsim import CronSim, CronSimError
        except ImportError:
            raise ConfigurationError(
                f"schedule {self.name!r}: cron= needs the cron parser: pip install \"queuekit[cron]\""
            ) from None
        try:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            zone = ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(
                f"schedule {self.name!r}: unknown time zone {self.tz!r}; use an IANA name such as 'Europe/Paris'"
            ) from None
        start = dt.datetime.fromtimestamp(moment, zone)
        try:
            return iter(CronSim(str(self.cron), start))
        except CronSimError as exc:
            raise ConfigurationError(f"schedule {self.name!r}: invalid cron expression {self.cron!r}: {exc}") from None


@dataclass(frozen=True)
class TickRecord:
    """What the shared state remembers of a schedule: the last tick handled and the job it enqueued."""

    tick: float
    job_id: str | None = None
    enqueued_at: float | None = None

    def encode(self) -> bytes:
        """The JSON bytes kept in the key-value store."""
        return json.dumps({"tick": self.tick, "job": self.job_id, "at": self.enqueued_at}).encode()

    @classmethod
    def decode(cls, raw: bytes | None) -> TickRecord | None:
        """The record, or None for no (or unreadable) state."""
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return cls(float(data["tick"]), data.get("job"), data.get("at"))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class ScheduleState:
    """A schedule as ``queuekit schedules`` and the dashboard show it."""

    name: str
    task: str
    spec: str
    next_run: float
    last_run: float | None
    last_job_id: str | None


def state_key(name: str) -> str:
    """The key-value key holding a schedule's :class:`TickRecord`."""
    return f"{STATE_PREFIX}{name}"


def due_ticks(schedule: Schedule, last: float, now: float) -> list[float]:
    """The ticks to enqueue now, given the last tick handled, by the schedule's catch-up policy.

    Returns them oldest first; an empty list when nothing is due. With ``none``, a tick
    late by more than half an interval (capped at a minute) is skipped: the caller still records
    it as handled, so the schedule moves on (see :func:`on_time`).
    """
    ticks: list[float] = []
    for tick in schedule.ticks_between(last, now):
        ticks.append(tick)
        if schedule.catch_up == "all" and len(ticks) >= MAX_CATCH_UP:
            break
        if schedule.catch_up != "all" and len(ticks) > 1:
            ticks.pop(0)  # only the latest matters: keep the list short however long the outage
    return ticks


def on_time(schedule: Schedule, tick: float, now: float) -> bool:
    """Whether a tick may still run under ``catch_up="none"``: late by at most half an interval (or a minute)."""
    return now - tick <= min(schedule.interval / 2, 60.0)


def schedule_states(app: App) -> list[ScheduleState]:
    """Each of the app's schedules with its next run and what the shared state says of its last run."""
    store = app.state.store
    now = time.time()
    found = []
    for schedule in app.schedules.values():
        record = TickRecord.decode(store.kv_get(state_key(schedule.name)))
        found.append(ScheduleState(
            schedule.name, schedule.task, schedule.spec, schedule.next_after(now),
            record.tick if record is not None and record.job_id else None,
            record.job_id if record is not None else None,
        ))
    return found


def describe_every(every: float | dt.timedelta) -> float:
    """``every=`` as seconds, from a number or a timedelta."""
    seconds = every.total_seconds() if isinstance(every, dt.timedelta) else every
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ConfigurationError(f"every= must be a positive number of seconds or a timedelta, got {every!r}")
    return float(seconds)
