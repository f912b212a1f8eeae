"""A Hypothesis state machine that holds a model queue against the real backend.

::

    TestMemoryMachine = make_state_machine_test(lambda clock, workdir: MemoryBroker(clock=clock or time.time),
                                                injects_clock=True)

Each example opens a fresh broker, runs a random sequence of enqueue, reserve, ack,
nack, dead-letter, extend, stale settles, requeue and purge calls on it and on a
:class:`~queuekit.testing.model.QueueModel`, and after every step checks that both agree.

Time: with ``injects_clock=True`` a rule moves a :class:`FakeClock` by whole seconds
while every lease and delay is a whole number plus half a second, so no due time ever
falls exactly on "now" and expiry is exact. On a broker with a server clock time cannot
be moved: leases and delays are an hour long, the clock rule is off, and expiry is left
to the pytest contract, which waits on short real leases.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import unittest
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import hypothesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from queuekit.broker import Delivery, Envelope, StateReporter
from queuekit.testing.clock import FakeClock
from queuekit.testing.harness import HOLD, BrokerOpener
from queuekit.testing.model import QueueModel

SPANS = (0.5, 1.5, 2.5, 4.5)  # leases and delays on a fake clock; the clock moves by whole seconds
QUEUES = 2
KEYS = ("k0", "k1")


class BrokerMachine(RuleBasedStateMachine):
    """The rules and invariants; :func:`make_state_machine_test` binds a broker opener."""

    opener: ClassVar[BrokerOpener]
    injects_clock: ClassVar[bool] = False
    strict_counts: ClassVar[bool] = True
    reopens: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock() if self.injects_clock else None
        self.workdir = Path(tempfile.mkdtemp(prefix="queuekit-machine-"))
        self.broker = type(self).opener(self.clock, self.workdir)
        self.caps = self.broker.capabilities
        token = uuid.uuid4().hex[:8]
        self.queues = [f"qk-m-{token}-{index}" for index in range(QUEUES)]
        self.model = QueueModel(self.caps)
        self.handed_out: list[Delivery] = []

    def teardown(self) -> None:
        """Close the broker and remove its scratch directory."""
        self.broker.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- helpers ---------------------------------------------------------------------------

    def now(self) -> float:
        """Model time: the fake clock, or 0 when nothing may expire."""
        return self.clock() if self.clock is not None else 0.0

    def span(self, data: st.DataObject, label: str) -> float:
        """A lease or delay: short on a fake clock, an hour on a real one."""
        return data.draw(st.sampled_from(SPANS), label=label) if self.clock is not None else HOLD

    def held(self) -> list[Delivery]:
        """Deliveries whose lease is still valid."""
        return [d for d in self.handed_out if self.model.holds(d, self.now())]

    def stale(self) -> list[Delivery]:
        """Deliveries whose lease is gone (settled, expired or superseded)."""
        return [d for d in self.handed_out if not self.model.holds(d, self.now())]

    def envelope(self, data: st.DataObject, queue: str, delay: float = 0.0) -> Envelope:
        priority = data.draw(st.integers(0, 3), label="priority") if self.caps.priorities else 0
        key = None
        if self.caps.dedup and data.draw(st.booleans(), label="keyed"):
            key = f"{queue}-{data.draw(st.sampled_from(KEYS), label='key')}"
        job_id = uuid.uuid4().hex
        return Envelope(job_id, queue, f"body-{job_id}".encode(), priority, delay, key)

    def send(self, envelopes: Sequence[Envelope]) -> None:
        expected = self.model.enqueue(envelopes, self.now())
        assert self.broker.enqueue(envelopes) == expected, "enqueue returned other ids than expected"

    # -- rules -----------------------------------------------------------------------------

    @rule(data=st.data(), queue=st.integers(0, QUEUES - 1), count=st.integers(1, 3))
    def enqueue(self, data: st.DataObject, queue: int, count: int) -> None:
        self.send([self.envelope(data, self.queues[queue]) for _ in range(count)])

    @precondition(lambda self: self.caps.delays)
    @rule(data=st.data(), queue=st.integers(0, QUEUES - 1))
    def enqueue_delayed(self, data: st.DataObject, queue: int) -> None:
        self.send([self.envelope(data, self.queues[queue], self.span(data, "delay"))])

    @rule(data=st.data(), which=st.sampled_from(["first", "second", "both"]), limit=st.integers(1, 3))
    def reserve(self, data: st.DataObject, which: str, limit: int) -> None:
        queues = {"first": self.queues[:1], "second": self.queues[1:], "both": self.queues}[which]
        self.do_reserve(data, queues, limit)

    def do_reserve(self, data: st.DataObject, queues: list[str], limit: int) -> None:
        """Reserve and check the deliveries against the model."""
        lease, now = self.span(data, "lease"), self.now()
        ready = len(self.model.ready(queues, now))
        got = self.broker.reserve(queues, limit, lease)
        self.model.reserve(queues, limit, lease, got, now)
        if self.strict_counts:
            assert len(got) == min(limit, ready), f"reserve returned {len(got)} of {ready} ready (limit {limit})"
        self.handed_out.extend(got)

    @precondition(lambda self: self.held())
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        chosen = data.draw(st.lists(st.sampled_from(self.held()), min_size=1, max_size=2, unique=True))
        self.broker.ack(chosen)
        self.model.ack(chosen, self.now())

    def settling_batch(self, data: st.DataObject) -> list[Delivery]:
        """One to three held deliveries, perhaps with a stale one among them (which must change nothing)."""
        chosen: list[Delivery] = data.draw(
            st.lists(st.sampled_from(self.held()), min_size=1, max_size=3, unique=True), label="deliveries")
        stale = self.stale()
        mix: bool = data.draw(st.booleans(), label="mix in a stale receipt")
        if stale and mix:
            at = data.draw(st.integers(0, len(chosen)), label="where")
            chosen.insert(at, data.draw(st.sampled_from(stale), label="stale delivery"))
        return chosen

    @precondition(lambda self: self.held())
    @rule(data=st.data(), count_attempt=st.booleans())
    def nack(self, data: st.DataObject, count_attempt: bool) -> None:
        returns: list[tuple[Delivery, float]] = []
        for delivery in self.settling_batch(data):
            later = self.caps.delays and data.draw(st.booleans(), label="later")
            returns.append((delivery, self.span(data, "delay") if later else 0.0))
        now = self.now()
        self.broker.nack(returns, count_attempt=count_attempt)
        self.model.nack(returns, count_attempt, now)

    @precondition(lambda self: self.held())
    @rule(data=st.data())
    def dead_letter(self, data: st.DataObject) -> None:
        letters = [(d, f"reason for {d.id[:8]} attempt {d.attempts}") for d in self.settling_batch(data)]
        now = self.now()
        self.broker.dead_letter(letters)
        self.model.dead_letter(letters, now)

    @precondition(lambda self: self.handed_out)
    @rule(data=st.data())
    def extend(self, data: st.DataObject) -> None:
        chosen = data.draw(st.lists(st.sampled_from(self.handed_out), min_size=1, max_size=3, unique=True))
        lease, now = self.span(data, "lease"), self.now()
        expected = self.model.extend(chosen, lease, now)
        assert self.broker.extend(chosen, lease) == expected, "extend reported other leases lost than expected"

    @precondition(lambda self: self.stale())
    @rule(data=st.data(), operation=st.sampled_from(["ack", "nack", "nack_uncounted", "dead_letter"]))
    def settle_with_stale_receipt(self, data: st.DataObject, operation: str) -> None:
        self.do_settle_stale(data, operation)

    def do_settle_stale(self, data: st.DataObject, operation: str) -> None:
        """Settle with a stale receipt, preferring one whose job another consumer now holds."""
        stale = self.stale()
        if not stale:
            return
        superseded = [d for d in stale if self.model.jobs[d.id].effective(self.now()) == "leased"]
        prefer: bool = data.draw(st.booleans(), label="prefer superseded")
        if superseded and prefer:
            stale = superseded
        delivery = data.draw(st.sampled_from(stale), label="stale delivery")
        if operation == "ack":
            self.broker.ack([delivery])
        elif operation == "dead_letter":
            self.broker.dead_letter([(delivery, "stale")])
        else:
            self.broker.nack([(delivery, 0.0)], count_attempt=operation == "nack")
        # The model is unchanged: the invariants then check that the broker is too.

    @precondition(lambda self: self.clock is not None)
    @rule(data=st.data(), seconds=st.integers(1, 3), then=st.sampled_from(["nothing", "reserve", "purge", "stale"]))
    def advance_clock(self, data: st.DataObject, seconds: int, then: str) -> None:
        """Move time, then (in the same step, before any invariant looks) act on the result."""
        assert self.clock is not None
        self.clock.advance(seconds)
        queue = data.draw(st.integers(0, QUEUES - 1), label="queue") if then != "nothing" else 0
        if then == "reserve":
            self.do_reserve(data, [self.queues[queue]], 1)
        elif then == "purge":
            self.purge(queue)
        elif then == "stale":
            self.do_settle_stale(data, data.draw(st.sampled_from(["ack", "nack", "dead_letter"]), label="operation"))

    @precondition(lambda self: self.clock is not None and self.held())
    @rule(data=st.data())
    def expire_and_retake(self, data: st.DataObject) -> None:
        """A consumer stalls past its lease and another one reserves from that queue."""
        assert self.clock is not None
        delivery = data.draw(st.sampled_from(self.held()), label="stalled delivery")
        self.clock.advance(math.ceil(self.model.jobs[delivery.id].lease_until - self.now()))
        self.do_reserve(data, [delivery.queue], data.draw(st.integers(1, 3), label="limit"))

    @rule(data=st.data(), queue=st.integers(0, QUEUES - 1), everything=st.booleans())
    def requeue_dead(self, data: st.DataObject, queue: int, everything: bool) -> None:
        name = self.queues[queue]
        ids = None
        if not everything:
            known = [job.id for job in self.model.dead(name)] + ["no-such-job"]
            ids = data.draw(st.lists(st.sampled_from(known), max_size=3, unique=True), label="ids")
        expected = self.model.requeue_dead(name, ids)
        assert self.broker.requeue_dead(name, ids) == expected, "requeue_dead moved another count"

    @precondition(lambda self: self.reopens)
    @rule()
    def reopen_broker(self) -> None:
        """Close the broker and open it again: everything, held leases included, must survive."""
        self.broker.close()
        self.broker = type(self).opener(self.clock, self.workdir)

    @rule(queue=st.integers(0, QUEUES - 1))
    def purge(self, queue: int) -> None:
        name = self.queues[queue]
        expected = self.model.purge(name, self.now())
        assert self.broker.purge(name) == expected, "purge deleted another count"

    @rule(queue=st.integers(0, QUEUES - 1))
    def purge_dead(self, queue: int) -> None:
        name = self.queues[queue]
        expected = self.model.purge_dead(name)
        assert self.broker.purge_dead(name) == expected, "purge_dead deleted another count"

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def stats_agree(self) -> None:
        now = self.now()
        expected = {name: self.model.stats(name, now) for name in self.queues}
        assert self.broker.stats(self.queues) == expected, "stats differ from the model"

    @invariant()
    def dead_letters_agree(self) -> None:
        for name in self.queues:
            letters = self.broker.dead_letters(name, limit=1000)
            got = sorted((d.id, d.body, d.reason, d.attempts) for d in letters)
            want = sorted((j.id, j.body, j.reason, j.attempts) for j in self.model.dead(name))
            assert got == want, f"dead letters of {name} differ from the model"

    @invariant()
    def job_states_agree(self) -> None:
        if not (self.caps.job_state and isinstance(self.broker, StateReporter)):
            return
        now = self.now()
        for job_id in self.model.jobs:
            expected = self.model.status(job_id, now)
            assert self.broker.state(job_id) == expected, f"state({job_id}) should be {expected}"


def default_settings(max_examples: int = 60, step_count: int = 30) -> hypothesis.settings:
    """Hypothesis settings that keep one run short enough for every CI push."""
    return hypothesis.settings(
        max_examples=max_examples,
        stateful_step_count=step_count,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def make_state_machine_test(
    opener: BrokerOpener,
    *,
    injects_clock: bool = False,
    strict_counts: bool = True,
    reopen: bool = False,
    settings: hypothesis.settings | None = None,
    name: str = "BrokerMachine",
) -> type[unittest.TestCase]:
    """A test case running :class:`BrokerMachine` on brokers from ``opener``.

    ``opener(clock, workdir)`` opens a fresh, isolated broker; ``clock`` is a
    :class:`FakeClock` when ``injects_clock`` and None otherwise. ``strict_counts``: a
    reserve must return ``min(limit, ready)`` jobs (turn off for brokers that may
    legitimately return fewer). ``reopen``: add a rule that closes the broker and opens it
    again on the same ``workdir`` and clock, after which the model must still hold (for
    brokers whose state, leases included, lives outside the client object).
    ``settings`` overrides :func:`default_settings`.
    """
    attributes: dict[str, Any] = {
        "opener": staticmethod(opener), "injects_clock": injects_clock,
        "strict_counts": strict_counts, "reopens": reopen,
    }
    machine: type[BrokerMachine] = type(name, (BrokerMachine,), attributes)
    case: type[unittest.TestCase] = machine.TestCase
    case.settings = settings or default_settings()  # type: ignore[attr-defined]
    return case

