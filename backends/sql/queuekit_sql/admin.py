"""Inspection and administration: stats, purge, dead letters, job state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from queuekit.broker import DeadLetter, JobStatus, QueueStats, WaitingJob
from queuekit_sql.base import BrokerBase, as_bytes, rows, run
from queuekit_sql.records import Dead, DeadCount, DeadRow, DeadTaken, JobState, QueueCounts, WaitingRow


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
                live = rows(cur, self._sql.get("stats_all"), params, QueueCounts)
                dead = rows(cur, self._sql.get("dead_counts_all"), params, DeadCount)
            else:
                live = self._listed(cur, "stats", "names", wanted, params, QueueCounts)
                dead = self._listed(cur, "dead_counts", "names", wanted, params, DeadCount)
            for row in live:
                counts.setdefault(row.queue, [0, 0, 0, 0])[:3] = [
                    int(row.ready_jobs), int(row.delayed_jobs), int(row.leased_jobs)]
            for letters in dead:
                counts.setdefault(letters.queue, [0, 0, 0, 0])[3] = int(letters.dead_jobs)
            return counts

        counts = self._db.read(work, what="stats")
        order = wanted if wanted is not None else sorted(counts)
        return {name: QueueStats(*counts[name]) for name in order}

    def purge(self, queue: str) -> int:
        """Delete a queue's ready and delayed jobs (leased ones finish first); return how many."""
        params = self._params(queue=queue)
        cur_count: int = self._db.write(lambda cur: run(cur, self._sql.get("purge"), params).rowcount,
                                        single=True, what="purge", long=True)
        return cur_count

    def remove(self, job_id: str) -> bool:
        """Delete a ready or delayed job (a lapsed lease counts as ready); True if deleted."""
        params = self._params(id=job_id)
        deleted = self._db.write(lambda cur: run(cur, self._sql.get("remove"), params).rowcount,
                                 single=True, what="remove job")
        return bool(deleted == 1)

    def delete_queue(self, queue: str) -> None:
        """Delete a queue's rows in every state and its dead letters, in one transaction.

        A queue is only the rows that name it, so ``stats()`` stops listing it at once.
        """
        params = {"queue": queue}

        def work(cur: Any) -> None:
            run(cur, self._sql.get("delete_queue"), params)
            run(cur, self._sql.get("purge_dead"), params)

        self._db.write(work, what="delete queue", long=True)

    def dead_letters(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        """The oldest ``limit`` dead letters of a queue."""
        if limit <= 0:
            return []
        params = {"queue": queue, "limit": limit}
        found = self._db.read(lambda cur: rows(cur, self._sql.get("dead_list"), params, DeadRow),
                              what="list dead letters")
        return [DeadLetter(r.id, r.queue, as_bytes(r.body), r.reason, int(r.attempts), float(r.dead_at)) for r in found]

    def waiting(self, queue: str, *, delayed: bool = False, limit: int = 50) -> list[WaitingJob]:
        """Ready jobs in claim order, or delayed ones soonest due first; nothing is taken."""
        if limit <= 0:
            return []
        statement = self._sql.get("waiting_delayed" if delayed else "waiting_ready")
        found = self._db.read(lambda cur: rows(cur, statement, {"queue": queue, "limit": limit}, WaitingRow),
                              what="list waiting jobs")
        return [WaitingJob(r.id, r.queue, as_bytes(r.body), int(r.priority), int(r.attempts),
                           float(r.wake_at) if delayed and r.wake_at is not None else None) for r in found]

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
            letters = rows(cur, self._sql.get("dead_take"), {"queue": queue}, DeadTaken)
        else:
            letters = self._listed(cur, "dead_take_ids", "ids", wanted, {"queue": queue}, DeadTaken)
        if not letters:
            return 0
        insert = self._sql.get("requeue")
        now = self._params()
        cur.executemany(insert.sql, [
            insert.args({"id": r.id, "queue": r.queue, "priority": r.priority, "body": r.body, **now}) for r in letters
        ])
        self._listed(cur, "results_forget", "ids", [r.id for r in letters], {})
        self._listed(cur, "dead_delete", "pks", [r.pk for r in letters], {})
        self._notify_queues(cur, {queue})
        return len(letters)

    def _waker_notify(self) -> None:
        """Hook: wake this process's blocked reserves."""

    def purge_dead(self, queue: str) -> int:
        """Delete a queue's dead letters; return how many."""
        count: int = self._db.write(lambda cur: run(cur, self._sql.get("purge_dead"), {"queue": queue}).rowcount,
                                    single=True, what="purge dead letters", long=True)
        return count

    def state(self, job_id: str) -> JobStatus | None:
        """QUEUED or RUNNING for a live job, DEAD for a dead letter, None otherwise."""
        params = self._params(id=job_id)

        def work(cur: Any) -> JobStatus | None:
            for job in rows(cur, self._sql.get("job_state"), params, JobState):
                return JobStatus.RUNNING if job.state == "leased" and int(job.live) else JobStatus.QUEUED
            if rows(cur, self._sql.get("is_dead"), {"id": job_id}, Dead):
                return JobStatus.DEAD
            return None

        result: JobStatus | None = self._db.read(work, what="job state")
        return result
