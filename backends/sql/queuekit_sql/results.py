"""The result store: outcomes in their own table, kept for a TTL, expired ones swept."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from queuekit.broker import Outcome
from queuekit.outcomes import outcome_from_bytes, outcome_to_bytes
from queuekit_sql.base import BrokerBase, as_bytes, rows, run
from queuekit_sql.records import Stored

SWEEP_EVERY = 60.0  # seconds between sweeps of expired results, per broker


class ResultOps(BrokerBase):
    """``save_outcomes`` / ``load_outcome`` on the results table."""

    _next_sweep: float = 0.0

    def save_outcomes(self, outcomes: Sequence[Outcome], ttl: float) -> None:
        """Store outcomes (replacing older ones of the same job) until ``ttl`` seconds from now."""
        items = list(outcomes)
        if not items:
            return
        now = self._params(ttl=float(ttl))
        params = [
            {"job_id": o.job_id, "status": o.status.value, "data": outcome_to_bytes(o), **now} for o in items
        ]
        statement = self._sql.get("save_result")

        def work(cur: Any) -> None:
            if len(params) == 1:
                run(cur, statement, params[0])
            else:
                cur.executemany(statement.sql, [statement.args(p) for p in params])

        self._db.write(work, single=len(params) == 1, what="save results")
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + SWEEP_EVERY
            self.sweep_results()

    def sweep_results(self) -> int:
        """Delete expired results now; return how many."""
        params = self._params()
        count: int = self._db.write(lambda cur: run(cur, self._sql.get("sweep_results"), params).rowcount,
                                    single=True, what="sweep results")
        return count

    def load_outcome(self, job_id: str) -> Outcome | None:
        """The stored outcome, or None (never stored, or expired)."""
        params = self._params(job_id=job_id)
        found = self._db.read(lambda cur: rows(cur, self._sql.get("load_result"), params, Stored), what="load result")
        return outcome_from_bytes(as_bytes(found[0].data)) if found else None
