"""The in-memory reference backend (``memory://``).

Obviously correct rather than clever: one lock guards everything. It keeps the same
lease, attempt and dead-letter semantics as the durable backends within one process
and loses everything when the process ends (durability ``none``).

``memory://`` gives a private broker; ``memory://name`` is shared by every app in the
process that names it, so a producer and a worker in one program can meet.
"""

from __future__ import annotations

import heapq
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from queuekit.broker import (
    Capabilities,
    DeadLetter,
    Delivery,
    Durability,
    Envelope,
    JobStatus,
    Outcome,
    QueueStats,
    WaitingJob,
)
from queuekit.keyvalue import LocalKeyValue
from queuekit.urls import CREATE, check_options, query_options

Clock = Callable[[], float]


@dataclass
class _Job:
    envelope: Envelope
    state: str  # "ready" | "delayed" | "leased"
    seq: int
    due: float
    attempts: int = 0
    receipt: str | None = None
    lease_until: float = 0.0


class MemoryBroker(LocalKeyValue):
    """Thread-safe in-process broker, result store and key-value store; the conformance reference."""

    schemes: ClassVar[tuple[str, ...]] = ("memory",)
    capabilities = Capabilities(
        durability=Durability.NONE, dedup=True, results=True, job_state=True, cross_process=False,
        delete_queue=True, browse=True, key_value=True, remove=True,
    )
    _shared: ClassVar[dict[str, MemoryBroker]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._lock = threading.Condition()
        self._jobs: dict[str, _Job] = {}
        self._ready: dict[str, list[tuple[int, int, str]]] = {}
        self._delayed: list[tuple[float, int, str]] = []
        self._dead: dict[str, list[DeadLetter]] = {}
        self._dead_priority: dict[str, int] = {}  # kept so requeue_dead restores it
        self._keys: dict[str, str] = {}
        self._results: dict[str, tuple[Outcome, float]] = {}
        self._queues: set[str] = set()
        self._seq = 0

    @classmethod
    def from_url(cls, url: str, **options: Any) -> MemoryBroker:
        """``memory://`` is private; ``memory://name`` is shared within the process.

        It takes no URL query options; the only keyword option is ``clock``.
        """
        name, _, query = url.partition("://")[2].partition("?")
        name = name.strip("/")
        check_options(query_options("?" + query), (), where="memory:// URLs")
        check_options(options, ("clock", CREATE), where="the memory broker's keyword options")
        options = {key: value for key, value in options.items() if key != CREATE}
        if not name:
            return cls(**options)
        with cls._shared_lock:
            if name not in cls._shared:
                cls._shared[name] = cls(**options)
            return cls._shared[name]

    def __repr__(self) -> str:
        return f"<MemoryBroker {len(self._jobs)} jobs>"

    # -- producer side ---------------------------------------------------------------

    def enqueue(self, envelopes: Sequence[Envelope]) -> list[str]:
        """Store envelopes; a held dedup key returns the holder's id."""
        ids: list[str] = []
        with self._lock:
            now = self._clock()
            for env in envelopes:
                holder = self._keys.get(env.key) if env.key else None
                if holder is not None:
                    ids.append(holder)
                    continue
                if env.id in self._jobs:
                    ids.append(env.id)
                    continue
                self._queues.add(env.queue)
                job = _Job(env, "delayed", 0, now + max(env.delay, 0.0))
                self._jobs[env.id] = job
                if env.key:
                    self._keys[env.key] = env.id
                if env.delay > 0:
                    self._schedule(job, job.due)
                else:
                    self._make_ready(job)
                ids.append(env.id)
            self._lock.notify_all()
        return ids

    # -- worker side -----------------------------------------------------------------

    def reserve(
        self, queues: Sequence[str], limit: int, lease: float, wait: float = 0.0
    ) -> list[Delivery]:
        """Lease up to ``limit`` messages, waiting up to ``wait`` seconds for one."""
        deadline = time.monotonic() + wait
        with self._lock:
            while True:
                taken = self._take(queues, limit, lease)
                remaining = deadline - time.monotonic()
                if taken or remaining <= 0:
                    return taken
                self._lock.wait(min(remaining, 0.05) if self._delayed else remaining)

    def _take(self, queues: Sequence[str], limit: int, lease: float) -> list[Delivery]:
        now = self._clock()
        self._promote(now)
        taken: list[Delivery] = []
        while len(taken) < limit:
            best: tuple[int, int, str] | None = None
            for queue in queues:
                heap = self._ready.get(queue)
                while heap and not self._is_current(heap[0]):
                    heapq.heappop(heap)
                if heap and (best is None or heap[0] < best):
                    best = heap[0]
            if best is None:
                break
            job = self._jobs[best[2]]
            heapq.heappop(self._ready[job.envelope.queue])
            job.state, job.receipt = "leased", os.urandom(8).hex()
            job.attempts += 1
            job.lease_until = now + lease
            self._schedule(job, job.lease_until)
            env = job.envelope
            taken.append(Delivery(env.id, env.queue, env.body, job.attempts, job.receipt, env.priority))
        return taken

    def _is_current(self, entry: tuple[int, int, str]) -> bool:
        job = self._jobs.get(entry[2])
        return job is not None and job.state == "ready" and job.seq == entry[1]

    def _promote(self, now: float) -> None:
        """Due delayed jobs and expired leases become ready."""
        while self._delayed and self._delayed[0][0] <= now:
            _due, seq, job_id = heapq.heappop(self._delayed)
            job = self._jobs.get(job_id)
            if job is None or job.seq != seq:
                continue
            if job.state == "delayed" or (job.state == "leased" and job.lease_until <= now):
                self._make_ready(job)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _make_ready(self, job: _Job) -> None:
        job.state, job.receipt, job.seq = "ready", None, self._next_seq()
        heap = self._ready.setdefault(job.envelope.queue, [])
        heapq.heappush(heap, (-job.envelope.priority, job.seq, job.envelope.id))

    def _schedule(self, job: _Job, when: float) -> None:
        job.seq = self._next_seq()
        heapq.heappush(self._delayed, (when, job.seq, job.envelope.id))

    def _holding(self, delivery: Delivery) -> _Job | None:
        job = self._jobs.get(delivery.id)
        if job is None or job.state != "leased" or job.receipt != delivery.receipt:
            return None
        if job.lease_until <= self._clock():
            return None  # expired: treat as lost even if nobody took it yet
        return job

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Remove finished jobs whose lease is still held."""
        with self._lock:
            for delivery in deliveries:
                if self._holding(delivery) is not None:
                    self._forget(delivery.id)

    def _forget(self, job_id: str) -> _Job:
        job = self._jobs.pop(job_id)
        if job.envelope.key and self._keys.get(job.envelope.key) == job_id:
            del self._keys[job.envelope.key]
        return job

    def nack(self, returns: Sequence[tuple[Delivery, float]], *, count_attempt: bool = True) -> None:
        """Return leased jobs, each now or after its delay in seconds."""
        with self._lock:
            for delivery, delay in returns:
                job = self._holding(delivery)
                if job is None:
                    continue
                if not count_attempt:
                    job.attempts -= 1
                if delay > 0:
                    job.state, job.receipt = "delayed", None
                    job.due = self._clock() + delay
                    self._schedule(job, job.due)
                else:
                    self._make_ready(job)
            self._lock.notify_all()

    def dead_letter(self, letters: Sequence[tuple[Delivery, str]]) -> None:
        """Move leased jobs to their queues' dead letters, each with its reason."""
        with self._lock:
            for delivery, reason in letters:
                job = self._holding(delivery)
                if job is None:
                    continue
                self._forget(delivery.id)
                env = job.envelope
                letter = DeadLetter(env.id, env.queue, env.body, reason, job.attempts, self._clock())
                self._dead.setdefault(env.queue, []).append(letter)
                self._dead_priority[env.id] = env.priority

    def extend(self, deliveries: Sequence[Delivery], lease: float) -> set[str]:
        """Renew held leases; report the ids whose lease was lost."""
        lost: set[str] = set()
        with self._lock:
            now = self._clock()
            for delivery in deliveries:
                job = self._holding(delivery)
                if job is None:
                    lost.add(delivery.id)
                    continue
                job.lease_until = now + lease
                self._schedule(job, job.lease_until)
        return lost

    # -- inspection and administration -----------------------------------------------

    def stats(self, queues: Sequence[str] | None = None) -> dict[str, QueueStats]:
        """Count jobs per queue and state."""
        with self._lock:
            now = self._clock()
            self._promote(now)
            names = sorted(self._queues | set(self._dead)) if queues is None else list(queues)
            counts = {name: {"ready": 0, "delayed": 0, "leased": 0} for name in names}
            for job in self._jobs.values():
                if job.envelope.queue in counts:
                    counts[job.envelope.queue][job.state] += 1
            return {
                name: QueueStats(c["ready"], c["delayed"], c["leased"], len(self._dead.get(name, ())))
                for name, c in counts.items()
            }

    def purge(self, queue: str) -> int:
        """Delete a queue's ready and delayed jobs (expired leases count as ready)."""
        with self._lock:
            self._promote(self._clock())
            doomed = [
                job_id
                for job_id, job in self._jobs.items()
                if job.envelope.queue == queue and job.state != "leased"
            ]
            for job_id in doomed:
                self._forget(job_id)
            return len(doomed)

    def remove(self, job_id: str) -> bool:
        """Delete a ready or delayed job (an expired lease counts as ready); True if deleted."""
        with self._lock:
            self._promote(self._clock())
            job = self._jobs.get(job_id)
            if job is None or job.state == "leased":
                return False
            self._forget(job_id)
            return True

    def delete_queue(self, queue: str) -> None:
        """Forget a queue: its jobs in every state, its dead letters and its name."""
        with self._lock:
            for job_id in [job_id for job_id, job in self._jobs.items() if job.envelope.queue == queue]:
                self._forget(job_id)
            self._ready.pop(queue, None)
            self._queues.discard(queue)
        self.purge_dead(queue)

    def dead_letters(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        """The oldest ``limit`` dead letters of a queue."""
        with self._lock:
            return list(self._dead.get(queue, [])[:limit])

    def requeue_dead(self, queue: str, ids: Sequence[str] | None = None) -> int:
        """Move dead letters back to ready with fresh attempts."""
        with self._lock:
            letters = self._dead.get(queue, [])
            wanted = None if ids is None else set(ids)
            back = [d for d in letters if wanted is None or d.id in wanted]
            self._dead[queue] = [d for d in letters if not (wanted is None or d.id in wanted)]
            for letter in back:
                env = Envelope(letter.id, letter.queue, letter.body, self._dead_priority.pop(letter.id, 0))
                job = _Job(env, "ready", 0, self._clock())
                self._jobs[letter.id] = job
                self._results.pop(letter.id, None)
                self._make_ready(job)
            self._lock.notify_all()
            return len(back)

    def purge_dead(self, queue: str) -> int:
        """Forget a queue's dead letters."""
        with self._lock:
            letters = self._dead.pop(queue, [])
            for letter in letters:
                self._dead_priority.pop(letter.id, None)
            return len(letters)

    def waiting(self, queue: str, *, delayed: bool = False, limit: int = 50) -> list[WaitingJob]:
        """Ready jobs in reserve order, or delayed ones soonest due first; nothing is taken."""
        with self._lock:
            self._promote(self._clock())
            if delayed:
                found = sorted((job.due, job.seq, job) for job in self._jobs.values()
                               if job.state == "delayed" and job.envelope.queue == queue)
            else:
                found = sorted((-job.envelope.priority, job.seq, job) for job in self._jobs.values()
                               if job.state == "ready" and job.envelope.queue == queue)
            return [
                WaitingJob(job.envelope.id, queue, job.envelope.body, job.envelope.priority, job.attempts,
                           job.due if delayed else None)
                for _, _, job in found[: max(limit, 0)]
            ]

    def state(self, job_id: str) -> JobStatus | None:
        """Where an unfinished job is, or None."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                leased = job.state == "leased" and job.lease_until > self._clock()
                return JobStatus.RUNNING if leased else JobStatus.QUEUED
            for letters in self._dead.values():
                if any(letter.id == job_id for letter in letters):
                    return JobStatus.DEAD
            return None

    # -- results ---------------------------------------------------------------------

    def save_outcomes(self, outcomes: Sequence[Outcome], ttl: float) -> None:
        """Keep outcomes for ``ttl`` seconds."""
        with self._lock:
            expires = self._clock() + ttl
            for outcome in outcomes:
                self._results[outcome.job_id] = (outcome, expires)

    def load_outcome(self, job_id: str) -> Outcome | None:
        """A stored outcome that has not expired."""
        with self._lock:
            found = self._results.get(job_id)
            if found is None:
                return None
            if found[1] <= self._clock():
                del self._results[job_id]
                return None
            return found[0]

    def close(self) -> None:
        """Nothing to release; the data stays for other users of a shared name."""
