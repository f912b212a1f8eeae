"""The scheduler: one leader among the workers enqueues each schedule's ticks, once.

Leadership is a lease in the app's shared state: ``schedule:leader`` holds the leader's
id and expires unless renewed, so another worker takes over within about one lease
(the lease follows the shortest schedule: between 1 and 10 seconds). Each tick is claimed
by compare-and-set on the schedule's record before it is enqueued, so even two leaders
during a handover enqueue it once; the job also carries a dedup key made of the schedule
name and the tick, which brokers with dedup hold while it is queued or running.

If the enqueue fails after the claim (broker down), the claim is rolled back and the tick
is tried again on the next step. A leader killed between claim and enqueue loses that
one tick: the scheduler is at-most-once per tick in that one window, exactly-once otherwise.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from queuekit.message import new_id
from queuekit.schedules import Schedule, TickRecord, due_ticks, on_time, state_key

if TYPE_CHECKING:
    from queuekit.app import App

log = logging.getLogger("queuekit.scheduler")

LEADER_KEY = "schedule:leader"


class Scheduler:
    """Runs an app's schedules when this process holds the leader lease; call :meth:`step` often."""

    def __init__(self, app: App, *, owner: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.owner = owner or uuid.uuid4().hex
        self.clock = clock
        shortest = min((schedule.interval for schedule in app.schedules.values()), default=10.0)
        self.lease = min(10.0, max(1.0, shortest))
        self.leading = False
        self._renew_at = 0.0

    def step(self) -> float:
        """Take or renew the lease, enqueue due ticks if leading; return seconds until the next step."""
        now = self.clock()
        self._lead(now)
        if not self.leading:
            return self.lease / 3
        soonest = now + self.lease / 3
        for schedule in self.app.schedules.values():
            self._run_due(schedule, now)
            soonest = min(soonest, schedule.next_after(now))
        return max(0.0, min(soonest, self._renew_at) - self.clock())

    def resign(self) -> None:
        """Give up the lease at once (graceful stop), so another worker leads without waiting for it to expire."""
        if self.leading:
            self.app.state.store.kv_delete(LEADER_KEY, if_equal=self.owner.encode())
            self.leading = False

    def _lead(self, now: float) -> None:
        store, me = self.app.state.store, self.owner.encode()
        if self.leading and now < self._renew_at:
            return
        held = self.leading and store.kv_set(LEADER_KEY, me, ttl=self.lease, if_equal=me)
        if not held:  # not leading, or the lease lapsed (a long pause): take it if nobody holds it
            held = store.kv_set(LEADER_KEY, me, ttl=self.lease, if_absent=True)
        if held != self.leading:
            log.info("schedules: %s the leader lease (%s)", "took" if held else "lost", self.owner[:12])
        self.leading = held
        self._renew_at = now + self.lease / 3

    def _run_due(self, schedule: Schedule, now: float) -> None:
        store = self.app.state.store
        key = state_key(schedule.name)
        raw = store.kv_get(key)
        record = TickRecord.decode(raw)
        if record is None:  # first sight of this schedule: start from the tick just passed, without running it
            start = TickRecord(schedule.last_at_or_before(now))
            store.kv_set(key, start.encode(), if_absent=True) if raw is None else store.kv_set(
                key, start.encode(), if_equal=raw)
            return
        for tick in due_ticks(schedule, record.tick, now):
            if schedule.catch_up == "none" and not on_time(schedule, tick, now):
                claimed = TickRecord(tick, record.job_id, record.enqueued_at).encode()
                if not store.kv_set(key, claimed, if_equal=raw):
                    return
                log.info("schedule %s: skipped the tick of %s (catch_up='none')", schedule.name, _stamp(tick))
                raw = claimed
                continue
            job_id = new_id()
            claimed = TickRecord(tick, job_id, now).encode()
            if raw is None or not store.kv_set(key, claimed, if_equal=raw):
                return  # another leader took this tick
            try:
                self._enqueue(schedule, tick, job_id)
            except Exception:
                store.kv_set(key, raw, if_equal=claimed)  # give the tick back: the next step tries again
                raise
            raw = claimed

    def _enqueue(self, schedule: Schedule, tick: float, job_id: str) -> None:
        task = self.app.get_task(schedule.task)
        message = task.build(schedule.args, schedule.kwargs, queue=schedule.queue,
                             key=f"schedule:{schedule.name}:{tick!r}")
        self.app.send([dataclasses.replace(message, id=job_id)])
        log.info("schedule %s: enqueued %s for %s", schedule.name, job_id, _stamp(tick))


def _stamp(moment: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(moment)) + "Z"
