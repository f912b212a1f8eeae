"""Conformance tests for the promises in ``Capabilities`` that no other contract checks.

``durability``, ``at_least_once``, ``cross_process``, ``transactional_enqueue`` and
``max_message_size`` are checked here. Three need help from the backend's own test suite,
given by overriding a method of the ``BrokerContract`` subclass:

* :meth:`CapabilityContract.broker_url`: a URL another process opens to reach the same
  broker (``cross_process``).
* :meth:`CapabilityContract.transaction`: an open transaction on the broker's database
  (``transactional_enqueue``).
* :meth:`CapabilityContract.restart_backend`: restart what holds the data, when the
  suite owns it (``durability``; without it the kit checks that the jobs outlive every
  client, which is all it can do against a shared server).

A backend that declares one of these capabilities but gives no way to check it fails
the test, naming the method to write.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from queuekit.broker import Durability, QueueStats, TransactionalEnqueue
from queuekit.errors import MessageTooLarge
from queuekit.testing.capabilities import SKIP_PREFIX, requires
from queuekit.testing.harness import HOLD, Harness

LARGEST_CHECKED = 16 * 1024 * 1024
"""A declared ``max_message_size`` above this (Redis 512 MiB, RabbitMQ 128 MiB) is not sent."""

_OTHER_PROCESS = """
import sys
from queuekit.broker import Envelope
from queuekit.registry import open_broker

url, queue, wanted, new_id = sys.argv[1:5]
broker = open_broker(url)
try:
    got = broker.reserve([queue], 1, 60.0, wait=30.0)
    if [d.id for d in got] != [wanted]:
        sys.exit(f"expected job {wanted}, reserved {[d.id for d in got]}")
    broker.ack(got)
    broker.enqueue([Envelope(new_id, queue, b"from another process")])
finally:
    broker.close()
"""


class _Rollback(Exception):
    """Raised inside a transaction to roll it back."""


class CapabilityContract:
    """Durability, at-least-once delivery, cross-process use, transactional enqueue, size cap."""

    def broker_url(self, workdir: Path) -> str | None:
        """A URL that opens, in another process, the broker ``open_broker(None, workdir)`` opens.

        Override it in a backend whose brokers declare ``cross_process``.
        """
        return None

    def transaction(self, kit: Harness) -> AbstractContextManager[Any]:
        """A context manager giving a connection in an open transaction on the broker's database.

        It commits when the block ends and rolls back when the block raises. Override it in a
        backend that declares ``transactional_enqueue``.
        """
        raise NotImplementedError(
            f"{type(self).__name__}: the broker declares transactional_enqueue; implement "
            "transaction(kit) to give the kit a connection in an open transaction"
        )

    def restart_backend(self, workdir: Path) -> None:
        """Restart the server behind ``workdir``'s broker; every client is closed when this is called.

        The default does nothing: the durability test then checks that accepted jobs outlive
        every client (for a file database, that is the restart). Override it in a suite that
        owns its server.
        """

    @requires("at_least_once")
    def test_a_job_its_consumer_never_settled_comes_back(self, kit: Harness) -> None:
        """A consumer that dies holding a job (its broker object closed, or its lease left to run out)."""
        caps = kit.broker.capabilities
        queue = kit.queue()
        [job] = kit.put(queue)
        consumer = kit.open_another() if caps.cross_process or not caps.lease_expiry else kit.broker
        held = kit.eventually(lambda: consumer.reserve([queue], 1, kit.short, wait=0.5), "the job to be reserved")
        assert [d.id for d in held] == [job.id]
        if consumer is not kit.broker:
            kit.drop(consumer)  # its process died: nothing settled, nothing extended
        kit.outlive(kit.short)
        again = kit.eventually(lambda: kit.reserve_one(queue), "the unsettled job to come back")
        assert (again.id, again.attempts) == (job.id, 2)
        kit.broker.ack([again])
        assert kit.stats(queue) == QueueStats()

    @requires("cross_process")
    def test_another_process_consumes_and_produces(self, kit: Harness) -> None:
        """A job enqueued here is taken and acked in another process, which enqueues one back."""
        if kit.injected:
            pytest.skip("another process cannot share the injected clock; the real-clock suite checks this")
        url = self.broker_url(kit.workdir)
        assert url, (
            f"{type(self).__name__}: the broker declares cross_process; implement broker_url(workdir) "
            "so the kit can open it in another process"
        )
        queue = kit.queue()
        [job] = kit.put(queue)
        reply = uuid.uuid4().hex
        done = subprocess.run(
            [sys.executable, "-c", _OTHER_PROCESS, url, queue, job.id, reply],
            capture_output=True, text=True, timeout=kit.patience + 60,
        )
        assert done.returncode == 0, f"the other process failed:\n{done.stderr[-3000:]}"
        back = kit.take_one(queue)
        assert (back.id, back.body) == (reply, b"from another process")
        kit.broker.ack([back])
        assert kit.stats(queue) == QueueStats()

    def test_accepted_jobs_survive_a_restart(self, kit: Harness) -> None:
        """Ready, delayed and held jobs are all there after every client closed (and the server restarted)."""
        if kit.broker.capabilities.durability is Durability.NONE:
            pytest.skip(f"{SKIP_PREFIX} durability")
        queue = kit.queue()
        ready = kit.put(queue, 2)
        delayed = kit.put(queue, delay=HOLD) if kit.broker.capabilities.delays else []
        [held] = kit.eventually(lambda: kit.broker.reserve([queue], 1, kit.short, wait=0.5), "a job to hold")
        kit.restart(lambda: self.restart_backend(kit.workdir))
        kit.outlive(kit.short)
        expected = QueueStats(ready=2, delayed=len(delayed))
        kit.eventually(lambda: kit.stats(queue) == expected, f"{expected} after the restart")
        back = kit.take(queue, 2, limit=2)
        assert {d.id for d in back} == {d.id for d in ready}
        assert held.id in {d.id for d in back}
        kit.broker.ack(back)
        assert kit.stats(queue) == QueueStats(delayed=len(delayed))

    @requires("transactional_enqueue")
    def test_a_job_enqueued_in_a_transaction_exists_only_once_it_commits(self, kit: Harness) -> None:
        """Committed: there, and not before the commit. Rolled back: never there."""
        broker = kit.broker
        assert isinstance(broker, TransactionalEnqueue), "a broker declaring `transactional_enqueue` needs enqueue_in"
        queue = kit.queue()
        kept, dropped = kit.envelope(queue), kit.envelope(queue)
        with self.transaction(kit) as connection:
            assert broker.enqueue_in(connection, [kept]) == [kept.id]
            assert kit.stats(queue) == QueueStats(), "a job of an uncommitted transaction is visible"
        with pytest.raises(_Rollback), self.transaction(kit) as connection:
            broker.enqueue_in(connection, [dropped])
            raise _Rollback
        assert kit.stats(queue) == QueueStats(ready=1)
        got = kit.take_one(queue)
        assert got.id == kept.id
        broker.ack([got])

    def test_a_message_over_the_declared_size_is_refused_and_one_at_it_kept(self, kit: Harness) -> None:
        """At ``max_message_size`` a body goes through whole; one byte more is MessageTooLarge and stores nothing."""
        limit = kit.broker.capabilities.max_message_size
        if limit is None:
            pytest.skip(f"{SKIP_PREFIX} max_message_size")
        if limit > LARGEST_CHECKED:
            pytest.skip(f"max_message_size {limit} is over the {LARGEST_CHECKED} bytes the kit sends")
        queue = kit.queue()
        fits = kit.envelope(queue, body=b"x" * limit)
        over = kit.envelope(queue, body=b"y" * (limit + 1))
        with pytest.raises(MessageTooLarge, match=str(limit)):
            kit.broker.enqueue([over])
        assert kit.broker.enqueue([fits]) == [fits.id]
        got = kit.take_one(queue)
        assert (got.id, len(got.body), got.body == fits.body) == (fits.id, limit, True)
        kit.broker.ack([got])
        assert kit.stats(queue) == QueueStats()

