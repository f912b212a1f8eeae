"""The Broker protocol: the whole contract a backend implements.

A backend only moves opaque message bodies and leases. Retries, backoff, results,
signing, time limits and scheduling are written once in the core on top of it.

Every method must be safe to call from several threads at once: a worker reserves
on one thread, acknowledges on another and a producer may share the same object.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable


class Durability(str, enum.Enum):
    """How much an accepted message survives, as the backend itself can tell."""

    NONE = "none"  # gone when the process or server stops
    SERVER = "server"  # survives a clean server restart, not necessarily a crash
    DISK = "disk"  # committed to disk before enqueue returns


@dataclass(frozen=True)
class Capabilities:
    """What a backend promises. The conformance kit checks each promise it makes."""

    durability: Durability = Durability.NONE
    fifo: bool = True  # FIFO within one priority of one queue, one consumer
    priorities: bool = True
    delays: bool = True
    at_least_once: bool = True  # unacknowledged jobs of a dead consumer come back
    lease_expiry: bool = True  # a lease not renewed in time expires and the job comes back
    dedup: bool = False  # enqueue with a key already queued or running is a no-op
    results: bool = False  # the broker also implements ResultStore
    job_state: bool = False  # Broker.state() can answer queued / running / dead
    transactional_enqueue: bool = False  # enqueue can join the caller's transaction
    cross_process: bool = True  # producers and workers may be different processes
    delete_queue: bool = False  # the broker implements QueueDeletion
    stop_consuming: bool = False  # push-based: the broker implements Pausable
    browse: bool = False  # the broker implements JobBrowser (lists waiting jobs without taking them)
    key_value: bool = False  # the broker (or result store) implements KeyValue: shared, atomic small state
    remove: bool = False  # the broker implements JobRemoval (deletes a waiting job by id)
    detects_state_loss: bool = False  # the broker implements StateLossReporter (notices its server lost data)
    max_message_size: int | None = None  # the broker's own hard cap, if any

    def as_dict(self) -> dict[str, object]:
        """Plain mapping for reports and JSON."""
        return {
            name: (value.value if isinstance(value, enum.Enum) else value)
            for name, value in self.__dict__.items()
        }


@dataclass(frozen=True, init=False)
class Envelope:
    """A message as the broker sees it: routing fields plus an opaque body.

    ``delay`` is relative (seconds from acceptance) so that backends with a server
    clock decide due-ness on that one authoritative clock.
    """

    id: str
    queue: str
    body: bytes
    priority: int = 0
    delay: float = 0.0
    key: str | None = None

    def __init__(
        self, id: str, queue: str, body: bytes, priority: int = 0, delay: float = 0.0, key: str | None = None
    ) -> None:
        # One update of the instance's dict, as in Message: the generated frozen __init__
        # sets each field with its own object.__setattr__, twice as slow, once per enqueued job.
        self.__dict__.update(id=id, queue=queue, body=body, priority=priority, delay=delay, key=key)


@dataclass(frozen=True)
class Delivery:
    """A reserved message. ``receipt`` fences the lease: a stale one acks nothing."""

    id: str
    queue: str
    body: bytes
    attempts: int  # times reserved so far, this reservation included
    receipt: str
    priority: int = 0


@dataclass(frozen=True)
class QueueStats:
    """Depth of one queue by state."""

    ready: int = 0
    delayed: int = 0
    in_flight: int = 0
    dead: int = 0


@dataclass(frozen=True)
class DeadLetter:
    """A dead-lettered message with the reason it was set aside."""

    id: str
    queue: str
    body: bytes
    reason: str
    attempts: int
    dead_at: float


@dataclass(frozen=True)
class WaitingJob:
    """A job waiting in a queue, as :class:`JobBrowser` lists it (nothing is reserved).

    ``attempts``: reservations it has had so far (a retry waits with attempts > 0);
    ``due``: when a delayed job becomes ready (epoch seconds on the broker's clock), None
    for a ready one.
    """

    id: str
    queue: str
    body: bytes
    priority: int = 0
    attempts: int = 0
    due: float | None = None


class JobStatus(str, enum.Enum):
    """Where a job stands. ``failed``: raised on its last attempt; ``dead``: set aside unrun.

    ``pending``: enqueued and not finished, on a broker that cannot tell queued from running
    (no ``job_state``; a separate result store remembers the enqueue). ``unknown``: neither
    the broker nor the result store holds the id: never enqueued here (or its transaction
    is not committed yet), or finished and its outcome expired or was never stored.
    """

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"
    PENDING = "pending"
    UNKNOWN = "unknown"

    @property
    def finished(self) -> bool:
        """True for the terminal states: succeeded, failed, dead and cancelled."""
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.DEAD, JobStatus.CANCELLED)


@dataclass(frozen=True)
class Outcome:
    """The final record of a job: its status, its JSON result or its error."""

    job_id: str
    status: JobStatus
    result: Any = None
    error: str | None = None
    traceback: str | None = None
    attempts: int = 0
    finished_at: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Broker(Protocol):
    """The service-provider interface every backend implements."""

    capabilities: Capabilities

    def enqueue(self, envelopes: Sequence[Envelope]) -> list[str]:
        """Store all envelopes, atomically where the backend can; return the job ids.

        A dedup key that is already held returns the holder's id and stores nothing.
        """
        ...

    def reserve(
        self, queues: Sequence[str], limit: int, lease: float, wait: float = 0.0
    ) -> list[Delivery]:
        """Lease up to ``limit`` ready messages, highest priority first, FIFO within one.

        Blocks up to ``wait`` seconds when nothing is ready; returns ``[]`` then.
        """
        ...

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Remove finished messages. Stale receipts (lease lost) are ignored."""
        ...

    def nack(self, returns: Sequence[tuple[Delivery, float]], *, count_attempt: bool = True) -> None:
        """Put messages back, each ``(delivery, delay)`` ready now (0) or after ``delay`` seconds.

        ``count_attempt=False`` returns unstarted messages without spending an attempt.
        Stale receipts are ignored; the others are settled whatever becomes of those.
        """
        ...

    def dead_letter(self, letters: Sequence[tuple[Delivery, str]]) -> None:
        """Move each ``(delivery, reason)`` to its queue's dead-letter store with the reason.

        Stale receipts are ignored.
        """
        ...

    def extend(self, deliveries: Sequence[Delivery], lease: float) -> set[str]:
        """Renew leases to ``lease`` seconds from now; return the ids whose lease was lost."""
        ...

    def stats(self, queues: Sequence[str] | None = None) -> dict[str, QueueStats]:
        """Depth per queue; all known queues when ``queues`` is None."""
        ...

    def purge(self, queue: str) -> int:
        """Delete ready and delayed messages of a queue; return how many."""
        ...

    def dead_letters(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        """List dead-lettered messages of a queue, oldest first."""
        ...

    def requeue_dead(self, queue: str, ids: Sequence[str] | None = None) -> int:
        """Move dead letters (all, or those ids) back to ready with attempts reset."""
        ...

    def purge_dead(self, queue: str) -> int:
        """Delete a queue's dead letters; return how many."""
        ...

    def close(self) -> None:
        """Release connections. Safe to call twice."""
        ...


@runtime_checkable
class ResultStore(Protocol):
    """Keeps final outcomes. Brokers that declare ``results`` implement it too."""

    def save_outcomes(self, outcomes: Sequence[Outcome], ttl: float) -> None:
        """Store outcomes, replacing older ones for the same job, for ``ttl`` seconds."""
        ...

    def load_outcome(self, job_id: str) -> Outcome | None:
        """The stored outcome, or None if none is stored (or it expired)."""
        ...

    def close(self) -> None:
        """Release connections. Safe to call twice."""
        ...


@runtime_checkable
class StateReporter(Protocol):
    """Brokers that declare ``job_state`` can say where an unfinished job is."""

    def state(self, job_id: str) -> JobStatus | None:
        """QUEUED, RUNNING or DEAD for a job the broker still holds; None otherwise."""
        ...


@runtime_checkable
class Pausable(Protocol):
    """Push-based brokers (deliveries arrive before they are reserved) can stop the flow.

    Brokers that declare ``stop_consuming`` implement it. Pull-based brokers need
    nothing: they hand out only what ``reserve`` asks for.
    """

    def stop_consuming(self, queues: Sequence[str]) -> None:
        """Stop delivering ``queues`` to this process and return what it buffered but never handed out.

        Returned messages are ready again with no attempt spent; reserved ones stay held
        and can still be acked or nacked. A later ``reserve`` may consume again.
        """
        ...


@runtime_checkable
class QueueDeletion(Protocol):
    """Brokers that declare ``delete_queue`` can remove a queue outright, not only empty it."""

    def delete_queue(self, queue: str) -> None:
        """Delete ``queue`` with its ready, delayed and dead jobs and forget its name.

        ``stats()`` no longer lists it and a later enqueue creates it afresh. Deleting an
        unknown queue does nothing. Call it once no worker consumes the queue: what becomes
        of deliveries still held is the backend's to define.
        """
        ...


@runtime_checkable
class JobBrowser(Protocol):
    """Brokers that declare ``browse`` list a queue's waiting jobs without reserving them."""

    def waiting(self, queue: str, *, delayed: bool = False, limit: int = 50) -> list[WaitingJob]:
        """Up to ``limit`` jobs of ``queue`` no worker holds, leaving them where they are.

        Ready jobs (``delayed=False``) in the order ``reserve`` takes them: highest priority
        first, oldest first within one. Delayed jobs (``delayed=True``, retries waiting out
        their backoff included) soonest due first, each with its ``due`` time; a delayed job
        whose time has come may be listed here until a reserve moves it. An unknown queue
        lists nothing.
        """
        ...


@runtime_checkable
class JobRemoval(Protocol):
    """Brokers that declare ``remove`` delete a waiting job by id, so that it never runs."""

    def remove(self, job_id: str) -> bool:
        """Delete the job if it is ready or delayed (no worker holds it); True if it was deleted.

        A reserved job (running, or buffered by a worker) is left alone and gives False,
        as do dead letters and unknown ids. Its dedup key, if any, is released.
        """
        ...


@runtime_checkable
class StateLossReporter(Protocol):
    """Brokers that declare ``detects_state_loss`` list each loss of a queue's data they noticed."""

    @property
    def resets(self) -> Sequence[Any]:
        """What this client noticed, oldest first: records with ``queue``, ``detected_at`` (epoch seconds)
        and ``last_known_backlog`` (int or None). The list only grows."""
        ...


@runtime_checkable
class KeyValue(Protocol):
    """Small shared state with atomic updates: what periodic jobs, rate limits, cancel and progress need.

    Brokers (or result stores) that declare ``key_value`` implement it. Keys are strings
    of at most 200 characters; values are bytes of at most 64 KiB. Every operation is
    atomic on its own; ``ttl`` is in seconds on the backend's clock and a key past its TTL
    reads as absent everywhere. Implementations must be safe from several threads and, for
    a backend other processes share, from several processes.
    """

    def kv_get(self, key: str) -> bytes | None:
        """The value, or None when the key is absent or expired."""
        ...

    def kv_set(
        self, key: str, value: bytes, *, ttl: float | None = None, if_absent: bool = False,
        if_equal: bytes | None = None,
    ) -> bool:
        """Write ``value`` (expiring after ``ttl``, or never); True if written.

        ``if_absent``: only when the key is absent (or expired). ``if_equal``: only when the
        current value is exactly ``if_equal`` (a compare-and-set). Without either it always writes.
        """
        ...

    def kv_incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        """Add ``amount`` to an integer counter (absent counts as 0) and return the new value.

        ``ttl`` is set when the counter is created and left alone afterwards.
        """
        ...

    def kv_delete(self, key: str, *, if_equal: bytes | None = None) -> bool:
        """Delete the key (only if its value is ``if_equal``, when given); True if something was deleted."""
        ...

    def kv_scan(self, prefix: str, limit: int = 1000) -> dict[str, bytes]:
        """Up to ``limit`` live keys starting with ``prefix``, with their values (in no given order)."""
        ...

    def kv_add(self, key: str, member: str, *, ttl: float | None = None) -> tuple[bool, int]:
        """Add ``member`` to the set named ``key``, atomically: (whether it was new, the set's size after).

        ``ttl`` is set when the set is created; the set and its members expire together. A
        set's key is its own: do not also use it with the other methods. Counting completions
        by job id this way makes a duplicated delivery count once.
        """
        ...


@runtime_checkable
class TransactionalEnqueue(Protocol):
    """Brokers that declare ``transactional_enqueue`` write jobs inside a caller's transaction."""

    def enqueue_in(self, connection: Any, envelopes: Sequence[Envelope]) -> list[str]:
        """Like :meth:`Broker.enqueue`, on the caller's open connection; never commits."""
        ...


class BrokerFactory(Protocol):
    """What the ``queuekit.backends`` entry point names: a class that opens from a URL.

    A backend that keeps its data in a file may also define a classmethod
    ``anchor_url(url: str, base: pathlib.Path) -> str`` returning ``url`` with a relative
    path made relative to ``base``: a URL read from a config file is then relative to that
    file (``queuekit.registry.anchor_url``), not to the working directory.
    """

    schemes: ClassVar[tuple[str, ...]]

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Broker:
        """Open a broker for ``url``; options come from the app's settings."""
        ...
