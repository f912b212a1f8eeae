"""Inspection and administration: stats, purge, dead letters, job state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from queuekit.broker import DeadLetter, JobStatus, QueueStats, WaitingJob
from queuekit_sql import statements as S
from queuekit_sql.base import BrokerBase, as_bytes, rows, run


class AdminOps(BrokerBase):
    """The parts of the broker that operators and ``queuekit status``/``dlq`` use."""

    def _notify_queues(self, cur: Any, queues: set[str]) -> None:
        """Hook: wake listeners for jobs made ready in this transaction (PostgreSQL)."""

    def stats(self, queues: Sequence[str] | None = None) -> dict[str, QueueStats]:
        """Ready, delayed, in-flight and dead counts per queue; every queue holding rows when None."""
        wanted = None if queues is None else list(dict.fromkeys(queues))
        if wanted == []:
            return {}

        def work(cur: Any) -> dict[str, list[int]]:
            counts: dict[str, list[int]] = {name: [0, 0, 0, 0] for name in wanted or ()}
            params = self._params()
            if wanted is None:
                live = rows(cur, self._sql.get(S.STATS, names="IS NOT NULL"), params)
                dead = rows(cur, self._sql.get(S.DEAD_COUNTS, names="IS NOT NULL"), params)
            else:
                live = self._listed(cur, S.STATS, "names", wanted, params)
                dead = self._listed(cur, S.DEAD_COUNTS, "names", wanted, params)
            for queue, ready, delayed, leased in live:
                counts.setdefault(queue, [0, 0, 0, 0])[:3] = [int(ready), int(delayed), int(leased)]
            for queue, count in dead:
                counts.setdefault(queue, [0, 0, 0, 0])[3] = int(count)
            return counts

        counts = self._db.read(work, what="stats")
        order = wanted if wanted is not None else sorted(counts)
        return {name: QueueStats(*counts[name]) for name in order}

    def purge(self, queue: str) -> int:
        """Delete a queue's ready and delayed jobs (leased ones finish first); return how many."""
        params = self._params(queue=queue)
        cur_count: int = self._db.write(lambda cur: run(cur, self._sql.get(S.PURGE), params).rowcount,
                                        single=True, what="purge", long=True)
        return cur_count

    def remove(self, job_id: str) -> bool:
        """Delete a ready or delayed job (a lapsed lease counts as ready); True if deleted."""
        params = self._params(id=job_id)
        deleted = self._db.write(lambda cur: run(cur, self._sql.get(S.REMOVE), params).rowcount,
                                 single=True, what="remove job")
        return bool(deleted == 1)

    def delete_queue(self, queue: str) -> None:
        """Delete a queue's rows in every state and its dead letters, in one transaction.

        A queue is only the rows that name it, so ``stats()`` stops listing it at once.
        """
        params = {"queue": queue}

        def work(cur: Any) -> None:
            run(cur, self._sql.get(S.DELETE_QUEUE), params)
            run(cur, self._sql.get(S.PURGE_DEAD), params)

        self._db.write(work, what="delete queue", long=True)

    def dead_letters(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        """The oldest ``limit`` dead letters of a queue."""
        if limit <= 0:
            return []
        found = self._db.read(lambda cur: rows(cur, self._sql.get(S.DEAD_LIST), {"queue": queue, "limit": limit}),
                              what="list dead letters")
        return [DeadLetter(r[0], r[1], as_bytes(r[2]), r[3], int(r[4]), float(r[5])) for r in found]

    def waiting(self, queue: str, *, delayed: bool = False, limit: int = 50) -> list[WaitingJob]:
        """Ready jobs in claim order, or delayed ones soonest due first; nothing is taken."""
        if limit <= 0:
            return []
        template = S.WAITING_DELAYED if delayed else S.WAITING_READY
        found = self._db.read(lambda cur: rows(cur, self._sql.get(template), {"queue": queue, "limit": limit}),
                              what="list waiting jobs")
        return [WaitingJob(r[0], r[1], as_bytes(r[2]), int(r[4]), int(r[3]),
                           float(r[5]) if delayed and r[5] is not None else None) for r in found]

    def requeue_dead(self, queue: str, ids: Sequence[str] | None = None) -> int:
        """Move dead letters (all, or those ids) back to ready with attempts reset; forget their results."""
        wanted = None if ids is None else list(dict.fromkeys(ids))
        if wanted == []:
            return 0
        moved: int = self._db.write(lambda cur: self._requeue(cur, queue, wanted), what="requeue dead letters")
        if moved:
            self._waker_notify()
        return moved

    def _requeue(self, cur: Any, queue: str, wanted: list[str] | None) -> int:
        if wanted is None:
            letters = rows(cur, self._sql.get(S.DEAD_TAKE), {"queue": queue})
        else:
            letters = self._listed(cur, S.DEAD_TAKE_IDS, "ids", wanted, {"queue": queue})
        if not letters:
            return 0
        insert = self._sql.get(S.REQUEUE)
        now = self._params()
        cur.executemany(insert.sql, [
            insert.args({"id": r[1], "queue": r[2], "priority": r[3], "body": r[4], **now}) for r in letters
        ])
        self._listed(cur, S.RESULTS_FORGET, "ids", [r[1] for r in letters], {})
        self._listed(cur, S.DEAD_DELETE, "pks", [r[0] for r in letters], {})
        self._notify_queues(cur, {queue})
        return len(letters)

    def _waker_notify(self) -> None:
        """Hook: wake this process's blocked reserves."""

    def purge_dead(self, queue: str) -> int:
        """Delete a queue's dead letters; return how many."""
        count: int = self._db.write(lambda cur: run(cur, self._sql.get(S.PURGE_DEAD), {"queue": queue}).rowcount,
                                    single=True, what="purge dead letters", long=True)
        return count

    def state(self, job_id: str) -> JobStatus | None:
        """QUEUED or RUNNING for a live job, DEAD for a dead letter, None otherwise."""
        params = self._params(id=job_id)

        def work(cur: Any) -> JobStatus | None:
            found = rows(cur, self._sql.get(S.JOB_STATE), params)
            if found:
                state, live = found[0]
                return JobStatus.RUNNING if state == "leased" and int(live) else JobStatus.QUEUED
            if rows(cur, self._sql.get(S.IS_DEAD), {"id": job_id}):
                return JobStatus.DEAD
            return None

        result: JobStatus | None = self._db.read(work, what="job state")
        return result
