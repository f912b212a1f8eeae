"""Schedules: tick arithmetic, cron across DST switches, catch-up policies and the leader lease."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest

from queuekit import App, ConfigurationError
from queuekit.backends.memory import MemoryBroker
from queuekit.ratelimit import RateLimit
from queuekit.scheduler import LEADER_KEY, Scheduler
from queuekit.schedules import Schedule, TickRecord, state_key
from queuekit.testing import FakeClock

PARIS = ZoneInfo("Europe/Paris")


def _at(*parts: int, tz: ZoneInfo = PARIS, fold: int = 0) -> float:
    return dt.datetime(*parts, tzinfo=tz, fold=fold).timestamp()


def _local(ticks: list[float]) -> list[str]:
    return [dt.datetime.fromtimestamp(t, PARIS).strftime("%m-%d %H:%M%z") for t in ticks]


def test_every_ticks_on_whole_multiples() -> None:
    schedule = Schedule("s", "t", every=30)
    assert schedule.next_after(1_000_000_005.0) == 1_000_000_020.0
    assert schedule.next_after(1_000_000_020.0) == 1_000_000_050.0
    assert list(schedule.ticks_between(1_000_000_000.0, 1_000_000_100.0)) == [
        1_000_000_020.0, 1_000_000_050.0, 1_000_000_080.0]
    assert schedule.last_at_or_before(1_000_000_050.0) == 1_000_000_050.0


def test_cron_in_a_time_zone_on_weekdays() -> None:
    schedule = Schedule("s", "t", cron="0 7 * * mon-fri", tz="Europe/Paris")
    friday_evening = _at(2026, 12, 4, 20, 0)
    assert _local(list(schedule.ticks_between(friday_evening, _at(2026, 12, 8, 8, 0)))) == [
        "12-07 07:00+0100", "12-08 07:00+0100"]


def test_spring_switch_loses_no_tick_and_doubles_none() -> None:
    """Paris, 2026-03-29: 02:00 becomes 03:00; the 02:30 job runs once, at 03:00."""
    daily = Schedule("d", "t", cron="30 2 * * *", tz="Europe/Paris")
    ticks = list(daily.ticks_between(_at(2026, 3, 27, 12, 0), _at(2026, 3, 31, 0, 0)))
    assert _local(ticks) == ["03-28 02:30+0100", "03-29 03:00+0200", "03-30 02:30+0200"]
    hourly = Schedule("h", "t", cron="0 * * * *", tz="Europe/Paris")
    ticks = list(hourly.ticks_between(_at(2026, 3, 29, 0, 30), _at(2026, 3, 29, 4, 30)))
    assert _local(ticks) == ["03-29 01:00+0100", "03-29 03:00+0200", "03-29 04:00+0200"]  # 02:00 does not exist
    assert all(b - a == 3600 for a, b in itertools.pairwise(ticks))  # every real hour, once


def test_autumn_switch_runs_a_repeated_time_once() -> None:
    """Paris, 2026-10-25: 03:00 goes back to 02:00; the 02:30 job runs once that day."""
    daily = Schedule("d", "t", cron="30 2 * * *", tz="Europe/Paris")
    ticks = list(daily.ticks_between(_at(2026, 10, 24, 12, 0), _at(2026, 10, 26, 12, 0)))
    assert _local(ticks) == ["10-25 02:30+0200", "10-26 02:30+0100"]
    half_hourly = Schedule("h", "t", cron="*/30 * * * *", tz="Europe/Paris")
    ticks = list(half_hourly.ticks_between(_at(2026, 10, 25, 1, 45), _at(2026, 10, 25, 3, 15)))
    assert [b - a for a, b in itertools.pairwise(ticks)] == [1800] * (len(ticks) - 1)
    assert len(ticks) == 5  # 02:00, 02:30 summer time, 02:00, 02:30 winter time, 03:00: real half hours


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({}, "exactly one"),
    ({"every": 5, "cron": "* * * * *"}, "exactly one"),
    ({"every": -1}, "positive"),
    ({"cron": "not a cron"}, "invalid cron expression"),
    ({"cron": "* * * * *", "tz": "Mars/Olympus"}, "unknown time zone"),
    ({"every": 5, "catch_up": "sometimes"}, "catch_up"),
])
def test_bad_schedules_say_what_is_wrong(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigurationError, match=needle):
        Schedule("bad", "t", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["100", "0/s", "ten/s", "5/w", "-1/s"])
def test_bad_rate_limits_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ConfigurationError, match=r"e\.g\. '100/s'"):
        RateLimit.parse(text)


def test_rate_limit_intervals() -> None:
    assert RateLimit.parse("100/s").interval == 0.01
    assert RateLimit.parse("10/m").interval == 6.0
    assert RateLimit.parse(" 1000 / h ").interval == 3.6


class _Rig:
    """An app on a memory broker whose state and scheduler run on one fake clock."""

    def __init__(self, catch_up: str = "latest", every: float = 60) -> None:
        self.clock = FakeClock(1_800_000_000.0)
        self.app = App(broker=MemoryBroker(clock=self.clock), url="memory://schedules")

        @self.app.periodic(every=every, name="job", catch_up=catch_up)  # type: ignore[arg-type]
        def job() -> None:
            return None

    def scheduler(self, owner: str) -> Scheduler:
        return Scheduler(self.app, owner=owner, clock=self.clock)

    def enqueued(self) -> int:
        return self.app.broker.stats(["default"])["default"].ready


@pytest.mark.parametrize(("policy", "expected"), [("latest", 1), ("all", 10), ("none", 0)])
def test_catch_up_after_an_outage(policy: str, expected: int) -> None:
    rig = _Rig(policy)
    scheduler = rig.scheduler("a")
    scheduler.step()
    assert rig.enqueued() == 0  # first sight: nothing runs until the next tick
    rig.clock.advance(600 + 35)  # ten ticks pass with nobody scheduling; the last is 35 s late
    scheduler.step()
    assert rig.enqueued() == expected
    rig.clock.advance(25)  # the next tick, on time
    scheduler.step()
    assert rig.enqueued() == expected + 1  # back on time, every policy runs the next tick
    record = TickRecord.decode(rig.app.state.store.kv_get(state_key("job")))
    assert record is not None and record.job_id is not None


def test_a_follower_takes_over_when_the_leader_stops_renewing() -> None:
    rig = _Rig(every=1)
    leader, follower = rig.scheduler("leader"), rig.scheduler("follower")
    leader.step()
    follower.step()
    assert (leader.leading, follower.leading) == (True, False)
    assert leader.lease == 1.0
    rig.clock.advance(0.5)
    follower.step()
    assert not follower.leading  # the lease is still held
    rig.clock.advance(leader.lease + 0.01)  # the leader died: its lease runs out
    follower.step()
    assert follower.leading
    assert rig.app.state.store.kv_get(LEADER_KEY) == b"follower"


def test_a_graceful_leader_hands_over_at_once() -> None:
    rig = _Rig()
    leader, follower = rig.scheduler("leader"), rig.scheduler("follower")
    leader.step()
    leader.resign()
    follower.step()
    assert follower.leading and not leader.leading


def test_a_failed_enqueue_gives_the_tick_back() -> None:
    rig = _Rig()
    scheduler = rig.scheduler("a")
    scheduler.step()
    rig.clock.advance(61)
    broker = rig.app.broker
    original = broker.enqueue

    def refuse(envelopes: object) -> list[str]:
        raise OSError("broker down")

    broker.enqueue = refuse  # type: ignore[method-assign]
    with pytest.raises(OSError):
        scheduler.step()
    broker.enqueue = original  # type: ignore[method-assign]
    scheduler.step()
    assert rig.enqueued() == 1


def test_schedule_names_and_tasks_are_checked() -> None:
    app = App("memory://")

    @app.periodic(every=5)
    def first() -> None:
        return None

    with pytest.raises(ConfigurationError, match="already exists"):
        app.schedule(first, every=10)
    other = App("memory://")
    with pytest.raises(ConfigurationError, match="not a task of this app"):
        other.schedule(first, every=10)
    assert app.schedule(first, every=10, name="second", args=(1,)).spec == "every 10s"
