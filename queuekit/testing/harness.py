"""The harness a conformance test gets: the broker under test plus ways to make time pass.

Brokers that accept an injected clock get a :class:`FakeClock`; time then passes only
when a test says so, and every check is exact. Brokers on a server clock (Redis,
PostgreSQL, ...) get short real leases and delays instead, and the tests wait for the
expected change with :meth:`Harness.eventually`, never with a bare sleep.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from queuekit.broker import Broker, Delivery, Envelope, QueueStats
from queuekit.retry import Backoff
from queuekit.testing.clock import Clock, FakeClock

T = TypeVar("T")

BrokerOpener = Callable[[Clock | None, Path], Broker]
"""Opens a fresh, isolated broker: ``(clock or None, an empty scratch directory) -> Broker``."""

HOLD = 3600.0
"""A lease or delay that never runs out during a test."""


class Harness:
    """The broker under test, unique queue names, envelope builders and time control."""

    def __init__(
        self,
        opener: BrokerOpener,
        workdir: Path,
        *,
        clock: FakeClock | None,
        short: float,
        patience: float,
    ) -> None:
        self.opener = opener
        self.workdir = workdir
        self.clock = clock
        self.short = 10.0 if clock is not None else short
        self.patience = patience
        self.broker = opener(clock, workdir)
        self._opened: list[Broker] = [self.broker]
        self._token = uuid.uuid4().hex[:10]
        self._count = 0

    def __repr__(self) -> str:
        mode = "fake clock" if self.clock is not None else "real clock"
        return f"<Harness {type(self.broker).__name__} {mode}>"

    # -- names and envelopes -------------------------------------------------------------

    def queue(self, label: str = "q") -> str:
        """A queue name no other test (or test run) uses."""
        self._count += 1
        return f"qk-{self._token}-{self._count}-{label}"[:128]

    def envelope(
        self,
        queue: str,
        body: bytes | None = None,
        *,
        priority: int = 0,
        delay: float = 0.0,
        key: str | None = None,
    ) -> Envelope:
        """A new envelope with a fresh id; the body names the id unless given."""
        job_id = uuid.uuid4().hex
        return Envelope(job_id, queue, body if body is not None else f"body-{job_id}".encode(), priority, delay, key)

    def put(self, queue: str, count: int = 1, *, priority: int = 0, delay: float = 0.0) -> list[Envelope]:
        """Enqueue ``count`` envelopes one call each; check the ids returned."""
        sent = [self.envelope(queue, priority=priority, delay=delay) for _ in range(count)]
        for env in sent:
            assert self.broker.enqueue([env]) == [env.id], "enqueue must return the job id"
        return sent

    # -- reserving -----------------------------------------------------------------------

    def reserve(self, queues: str | Sequence[str], limit: int = 1, lease: float = HOLD) -> list[Delivery]:
        """One non-blocking reserve, checked against ``limit``."""
        names = [queues] if isinstance(queues, str) else list(queues)
        got = self.broker.reserve(names, limit, lease)
        assert len(got) <= limit, f"reserve(limit={limit}) returned {len(got)} deliveries"
        return got

    def take(self, queues: str | Sequence[str], count: int, lease: float = HOLD, limit: int = 1) -> list[Delivery]:
        """Reserve until ``count`` deliveries are in hand, waiting up to the patience."""
        taken: list[Delivery] = []

        def more() -> bool:
            taken.extend(self.reserve(queues, min(limit, count - len(taken)), lease))
            return len(taken) >= count

        self.eventually(more, f"{count} deliveries from {queues}")
        return taken

    def take_one(self, queues: str | Sequence[str], lease: float = HOLD) -> Delivery:
        """Reserve exactly one delivery, waiting for it."""
        return self.take(queues, 1, lease)[0]

    def held_in_two_queues(self) -> tuple[str, str, list[Delivery]]:
        """Queues ``a`` (3 jobs) and ``b`` (1 job), all held: ``[one, two, acked, other]``.

        ``acked`` is acknowledged already, so its receipt is stale: a settlement batch that
        mixes it in must skip it and still settle the others.
        """
        first, second = self.queue("a"), self.queue("b")
        self.put(first, 3)
        self.put(second)
        one, two, acked = self.take(first, 3, limit=3)
        other = self.take_one(second)
        self.broker.ack([acked])
        return first, second, [one, two, acked, other]

    def reserve_one(self, queues: str | Sequence[str], lease: float = HOLD) -> Delivery | None:
        """One non-blocking reserve of at most one delivery."""
        got = self.reserve(queues, 1, lease)
        return got[0] if got else None

    def stats(self, queue: str) -> QueueStats:
        """The stats of one queue."""
        return self.broker.stats([queue])[queue]

    # -- time ----------------------------------------------------------------------------

    @property
    def injected(self) -> bool:
        """True when the broker runs on the harness's fake clock."""
        return self.clock is not None

    def pass_time(self, seconds: float) -> None:
        """Advance the fake clock; on a real clock, do nothing (wait with :meth:`eventually`)."""
        if self.clock is not None:
            self.clock.advance(seconds)

    def outlive(self, seconds: float) -> None:
        """Make more than ``seconds`` pass on a fake clock (a lease or delay runs out)."""
        self.pass_time(seconds + 1.0)

    def eventually(self, probe: Callable[[], T | None], what: str) -> T:
        """Call ``probe`` until it returns something truthy; fail after the patience."""
        deadline = time.monotonic() + self.patience
        polls = Backoff(0.005, 0.1, jitter=False)
        while True:
            found = probe()
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {self.patience}s waiting for {what}")
            time.sleep(polls.next())

    # -- lifecycle -----------------------------------------------------------------------

    def open_another(self) -> Broker:
        """Another broker from the same opener, scratch directory and clock (closed at teardown)."""
        other = self.opener(self.clock, self.workdir)
        self._opened.append(other)
        return other

    def drop(self, broker: Broker) -> None:
        """Close ``broker`` (one from :meth:`open_another`) now, settling nothing: its consumer died."""
        self._opened.remove(broker)
        broker.close()

    def restart(self, between: Callable[[], object] = lambda: None) -> None:
        """Close every broker this harness opened, call ``between``, then open :attr:`broker` again."""
        self.close()
        self._opened.clear()
        between()
        self.broker = self.opener(self.clock, self.workdir)
        self._opened.append(self.broker)

    def close(self) -> None:
        """Close every broker this harness opened."""
        for broker in self._opened:
            broker.close()
