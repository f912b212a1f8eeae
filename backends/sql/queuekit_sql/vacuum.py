"""Keeping a PostgreSQL jobs table lean from the workers themselves.

Every claim leaves a dead row version behind and every ack a deleted row. Until
VACUUM removes them, their index entries sit at the head of the ready index, exactly
where each claim starts reading, so the cost of a claim grows with the number of jobs
processed since the last vacuum. PostgreSQL's autovacuum wakes once a minute by default
(and may be off); a busy queue processes a million jobs in that time. So a worker
process checks the table's dead-row count every ``interval`` seconds and runs
``VACUUM (SKIP_LOCKED)`` itself when dead rows reach ``floor`` plus ``fraction`` of the
live ones: a vacuum's cost grows with the table, so the work per job stays constant.
``SKIP_LOCKED`` makes a vacuum already under way (another worker's, or autovacuum's)
a reason to skip, never to wait. Rows a vacuum could not remove (a long transaction
elsewhere still sees them) are not counted again: the next vacuum waits for as many
new dead rows, so a held-back horizon never turns into a vacuum every ``interval``.
``?vacuum=false`` leaves the table to autovacuum.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("queuekit.sql")

Run = Callable[[Callable[[Any], Any]], Any]

DEAD_ROWS = "SELECT n_dead_tup, n_live_tup FROM pg_stat_all_tables WHERE relid = to_regclass(%s)"


class VacuumKeeper:
    """A daemon thread that vacuums one table when its dead rows pile up."""

    def __init__(self, run: Run, table: str, *, interval: float = 1.0, floor: int = 2000,
                 fraction: float = 0.1) -> None:
        self._run = run  # runs work(cursor) on an autocommit connection of the broker's pool
        self._table = table  # validated, quoted, schema-qualified name
        self.interval = interval
        self.floor = floor
        self.fraction = fraction
        self.vacuums = 0
        self.left_behind = 0  # dead rows the last vacuum could not remove
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="queuekit-sql-vacuum", daemon=True)
        self.pid = os.getpid()

    def start(self) -> None:
        """Start checking in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (a vacuum under way finishes first)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(30.0)

    def due(self, dead: int, live: int) -> bool:
        """True when ``dead`` rows (beyond those left behind last time) are worth a vacuum beside ``live`` ones."""
        return dead - self.left_behind >= self.floor + self.fraction * live

    def check(self) -> bool:
        """Vacuum now if the table needs it; True if a vacuum ran."""
        dead, live = self._counts()
        if not self.due(dead, live):
            self.left_behind = min(self.left_behind, dead)  # someone else vacuumed meanwhile
            return False
        self._run(lambda cur: cur.execute(f"VACUUM (SKIP_LOCKED) {self._table}"))
        self.vacuums += 1
        self.left_behind = self._counts()[0]  # VACUUM reports what it could not remove
        return True

    def _counts(self) -> tuple[int, int]:
        found = self._run(lambda cur: _fetch(cur, DEAD_ROWS, (self._table,)))
        if not found:
            return 0, 0
        return int(found[0][0] or 0), int(found[0][1] or 0)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception as exc:  # maintenance must never take a worker down
                log.warning("vacuum of %s skipped: %s", self._table, exc)


def _fetch(cur: Any, sql: str, params: tuple[Any, ...]) -> list[Any]:
    cur.execute(sql, params)
    return list(cur.fetchall())
