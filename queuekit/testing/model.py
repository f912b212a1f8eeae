"""A pure-Python model of one broker: what the state machine expects the real one to do.

Time is a number the machine supplies (the fake clock, or a constant 0 for brokers on a
server clock, whose leases and delays are then long enough never to run out). A job is
in exactly one stored state; "ready" is derived: a delayed job that is due, or a leased
job whose lease ran out, is ready.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from queuekit.broker import Capabilities, Delivery, Envelope, JobStatus, QueueStats

READY, DELAYED, LEASED, DEAD, GONE = "ready", "delayed", "leased", "dead", "gone"


@dataclass
class ModelJob:
    """One job as the model sees it."""

    id: str
    queue: str
    body: bytes
    priority: int
    key: str | None
    order: int  # enqueue order, for FIFO among fresh jobs
    state: str = READY
    attempts: int = 0
    due: float = 0.0
    lease_until: float = 0.0
    receipt: str | None = None
    receipts: set[str] = field(default_factory=set)
    fresh: bool = True  # enqueued ready and never handed out: FIFO applies to it
    reason: str = ""

    def effective(self, now: float) -> str:
        """The state at ``now``: due delayed jobs and expired leases are ready."""
        if self.state == DELAYED and self.due <= now:
            return READY
        if self.state == LEASED and self.lease_until <= now:
            return READY
        return self.state


class QueueModel:
    """The expected contents of a broker, updated by the same calls the machine makes."""

    def __init__(self, capabilities: Capabilities) -> None:
        self.capabilities = capabilities
        self.jobs: dict[str, ModelJob] = {}
        self.dead_order: dict[str, list[str]] = {}
        self._order = 0

    # -- queries ---------------------------------------------------------------------------

    def holds(self, delivery: Delivery, now: float) -> bool:
        """True if ``delivery`` still carries the job's one valid lease."""
        job = self.jobs.get(delivery.id)
        return job is not None and job.effective(now) == LEASED and job.receipt == delivery.receipt

    def ready(self, queues: Sequence[str], now: float) -> list[ModelJob]:
        """Jobs a reserve on ``queues`` may hand out at ``now``."""
        return [job for job in self.jobs.values() if job.queue in queues and job.effective(now) == READY]

    def stats(self, queue: str, now: float) -> QueueStats:
        """The counts a broker must report for ``queue``."""
        states = [job.effective(now) for job in self.jobs.values() if job.queue == queue]
        return QueueStats(
            ready=states.count(READY), delayed=states.count(DELAYED),
            in_flight=states.count(LEASED), dead=states.count(DEAD),
        )

    def status(self, job_id: str, now: float) -> JobStatus | None:
        """What ``state(job_id)`` must answer."""
        job = self.jobs.get(job_id)
        state = None if job is None else job.effective(now)
        if state in (READY, DELAYED):
            return JobStatus.QUEUED
        return {LEASED: JobStatus.RUNNING, DEAD: JobStatus.DEAD}.get(state or GONE)

    def key_holder(self, key: str) -> str | None:
        """The id of the job holding dedup ``key`` (queued or running), if any."""
        for job in self.jobs.values():
            if job.key == key and job.state in (READY, DELAYED, LEASED):
                return job.id
        return None

    # -- producer side ---------------------------------------------------------------------

    def enqueue(self, envelopes: Sequence[Envelope], now: float) -> list[str]:
        """Store envelopes; return the ids ``enqueue`` must return."""
        ids: list[str] = []
        for env in envelopes:
            holder = self.key_holder(env.key) if env.key and self.capabilities.dedup else None
            if holder is not None:
                ids.append(holder)
                continue
            self._order += 1
            job = ModelJob(env.id, env.queue, env.body, env.priority, env.key, self._order)
            if env.delay > 0:
                job.state, job.due, job.fresh = DELAYED, now + env.delay, False
            self.jobs[env.id] = job
            ids.append(env.id)
        return ids

    # -- consumer side ---------------------------------------------------------------------

    def reserve(self, queues: Sequence[str], limit: int, lease: float, got: Sequence[Delivery], now: float) -> None:
        """Check what a reserve returned against the model, then lease those jobs."""
        remaining = self.ready(queues, now)
        assert len(got) <= limit, f"reserve(limit={limit}) returned {len(got)}"
        for delivery in got:
            job = self.jobs.get(delivery.id)
            assert job is not None, f"reserve returned {delivery.id}, a job never enqueued"
            state = job.effective(now)
            assert job in remaining, f"job {job.id} was handed out while {state} (or twice in one reserve)"
            self._check_order(job, remaining)
            remaining.remove(job)
            job.state, job.fresh, job.lease_until = LEASED, False, now + lease
            job.attempts += 1
            assert delivery.receipt not in job.receipts, f"job {job.id} got a receipt it had before"
            job.receipt = delivery.receipt
            job.receipts.add(delivery.receipt)
            seen = (delivery.queue, delivery.body, delivery.priority, delivery.attempts)
            assert seen == (job.queue, job.body, job.priority, job.attempts), f"delivery of {job.id} differs"

    def _check_order(self, job: ModelJob, remaining: Sequence[ModelJob]) -> None:
        rivals = [other for other in remaining if other.queue == job.queue and other is not job]
        if self.capabilities.priorities:
            higher = [other.id for other in rivals if other.priority > job.priority]
            assert not higher, f"job {job.id} (priority {job.priority}) came before higher-priority {higher}"
        if self.capabilities.fifo and job.fresh:
            same = not self.capabilities.priorities
            earlier = [
                other.id for other in rivals
                if other.fresh and other.order < job.order and (same or other.priority == job.priority)
            ]
            assert not earlier, f"job {job.id} overtook {earlier}, enqueued before it at the same priority"

    def ack(self, deliveries: Sequence[Delivery], now: float) -> None:
        """Forget jobs whose lease the deliveries still hold."""
        for delivery in deliveries:
            if self.holds(delivery, now):
                self.jobs[delivery.id].state = GONE

    def nack(self, returns: Sequence[tuple[Delivery, float]], count_attempt: bool, now: float) -> None:
        """Return held jobs, each now or after its delay; stale receipts change nothing."""
        for delivery, delay in returns:
            if not self.holds(delivery, now):
                continue
            job = self.jobs[delivery.id]
            if not count_attempt:
                job.attempts -= 1
            job.receipt = None
            job.state, job.due = (DELAYED, now + delay) if delay > 0 else (READY, now)

    def dead_letter(self, letters: Sequence[tuple[Delivery, str]], now: float) -> None:
        """Set held jobs aside in order; each loses its dedup key (a requeued dead letter has none)."""
        for delivery, reason in letters:
            if not self.holds(delivery, now):
                continue
            job = self.jobs[delivery.id]
            job.state, job.reason, job.receipt, job.key = DEAD, reason, None, None
            self.dead_order.setdefault(job.queue, []).append(job.id)

    def extend(self, deliveries: Sequence[Delivery], lease: float, now: float) -> set[str]:
        """Renew held leases; return the ids ``extend`` must report lost."""
        held = [d for d in deliveries if self.holds(d, now)]
        lost = {d.id for d in deliveries if d not in held}
        for delivery in held:  # a stale copy in the same call does not stop the holder's renewal
            self.jobs[delivery.id].lease_until = now + lease
        return lost

    # -- administration --------------------------------------------------------------------

    def purge(self, queue: str, now: float) -> int:
        """Delete ready and delayed jobs of ``queue``; return how many."""
        doomed = [j for j in self.jobs.values() if j.queue == queue and j.effective(now) in (READY, DELAYED)]
        for job in doomed:
            job.state = GONE
        return len(doomed)

    def requeue_dead(self, queue: str, ids: Sequence[str] | None) -> int:
        """Dead letters back to ready with attempts reset; return how many."""
        order = self.dead_order.get(queue, [])
        back = [job_id for job_id in order if ids is None or job_id in ids]
        for job_id in back:
            job = self.jobs[job_id]
            job.state, job.attempts, job.reason = READY, 0, ""
        self.dead_order[queue] = [job_id for job_id in order if job_id not in back]
        return len(back)

    def purge_dead(self, queue: str) -> int:
        """Delete the dead letters of ``queue``; return how many."""
        order = self.dead_order.pop(queue, [])
        for job_id in order:
            self.jobs[job_id].state = GONE
        return len(order)

    def dead(self, queue: str) -> list[ModelJob]:
        """Dead letters of ``queue``, oldest first."""
        return [self.jobs[job_id] for job_id in self.dead_order.get(queue, [])]
