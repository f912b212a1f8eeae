"""Conformance tests: leases, receipts (fencing), ack, nack and delays."""

from __future__ import annotations

import pytest

from queuekit.broker import Delivery, QueueStats
from queuekit.testing.capabilities import requires
from queuekit.testing.harness import HOLD, Harness

STALE_OPERATIONS = ("ack", "nack", "nack_delay", "nack_uncounted", "dead_letter")


def _apply(kit: Harness, operation: str, delivery: Delivery) -> None:
    """Do one settling operation with ``delivery``."""
    if operation == "ack":
        kit.broker.ack([delivery])
    elif operation == "nack":
        kit.broker.nack(delivery)
    elif operation == "nack_delay":
        kit.broker.nack(delivery, delay=5.0)
    elif operation == "nack_uncounted":
        kit.broker.nack(delivery, count_attempt=False)
    else:
        kit.broker.dead_letter(delivery, "stale receipt")


class LeaseContract:
    """A lease holds a job for one consumer; its receipt is the only key to settle it."""

    def test_ack_removes_the_job(self, kit: Harness) -> None:
        queue = kit.queue()
        kit.put(queue, 3)
        got = kit.take(queue, 3, limit=3)
        kit.broker.ack(got[:2])
        assert kit.stats(queue) == QueueStats(in_flight=1)
        kit.broker.ack(got[2:])
        assert kit.stats(queue) == QueueStats()
        assert kit.reserve(queue, 10) == []

    def test_settling_an_acked_job_again_does_nothing(self, kit: Harness) -> None:
        queue = kit.queue()
        kit.put(queue)
        got = kit.take_one(queue)
        kit.broker.ack([got])
        for operation in STALE_OPERATIONS:
            _apply(kit, operation, got)
        assert kit.broker.extend([got], HOLD) == {got.id}
        assert kit.stats(queue) == QueueStats()
        assert kit.reserve(queue, 10) == [], "an acknowledged job must never come back"
        assert kit.broker.dead_letters(queue) == []

    def test_extend_of_held_leases_reports_nothing_lost(self, kit: Harness) -> None:
        queue = kit.queue()
        kit.put(queue, 2)
        got = kit.take(queue, 2, limit=2)
        assert kit.broker.extend(got, HOLD) == set()
        assert kit.stats(queue) == QueueStats(in_flight=2)

    @requires("lease_expiry")
    def test_expired_lease_returns_the_job_with_attempt_counted(self, kit: Harness) -> None:
        queue = kit.queue()
        [env] = kit.put(queue)
        first = kit.take_one(queue, lease=kit.short)
        kit.outlive(kit.short)
        again = kit.eventually(lambda: kit.reserve_one(queue), "the job whose lease expired to come back")
        assert (again.id, again.body, again.attempts) == (env.id, env.body, 2)
        assert again.receipt != first.receipt

    @requires("lease_expiry")
    def test_extend_keeps_the_job_held(self, kit: Harness) -> None:
        queue = kit.queue()
        kit.put(queue, 2)
        kept, control = kit.take(queue, 2, lease=kit.short, limit=2)
        assert kit.broker.extend([kept], HOLD) == set()
        kit.outlive(kit.short)
        back = kit.eventually(lambda: kit.reserve_one(queue), "the control job's lease to expire")
        assert back.id == control.id
        assert kit.reserve(queue, 10) == [], "the extended lease must still hold"
        assert kit.broker.extend([kept], HOLD) == set()
        assert kit.stats(queue) == QueueStats(in_flight=2)

    @requires("lease_expiry")
    def test_extend_reports_a_stale_receipt_lost(self, kit: Harness) -> None:
        queue = kit.queue()
        kit.put(queue, 2)
        stale = kit.take_one(queue, lease=kit.short)
        held = kit.take_one(queue)
        kit.outlive(kit.short)
        newer = kit.eventually(lambda: kit.reserve_one(queue), "the expired job to come back")
        assert newer.id == stale.id
        assert kit.broker.extend([stale, held, newer], HOLD) == {stale.id}

    @requires("lease_expiry")
    @pytest.mark.parametrize("operation", STALE_OPERATIONS)
    def test_stale_receipt_cannot_settle_the_new_holders_job(self, kit: Harness, operation: str) -> None:
        queue = kit.queue()
        kit.put(queue)
        stale = kit.take_one(queue, lease=kit.short)
        kit.outlive(kit.short)
        holder = kit.eventually(lambda: kit.reserve_one(queue), "the expired job to go to a second consumer")
        _apply(kit, operation, stale)
        assert kit.stats(queue) == QueueStats(in_flight=1), f"a stale {operation} changed the job"
        assert kit.reserve(queue, 10) == []
        assert kit.broker.extend([holder], HOLD) == set(), "the new holder must keep its lease"
        kit.broker.ack([holder])
        assert kit.stats(queue) == QueueStats()

    def test_nack_requeues_now_with_attempt_counted(self, kit: Harness) -> None:
        queue = kit.queue()
        [env] = kit.put(queue)
        first = kit.take_one(queue)
        kit.broker.nack(first)
        again = kit.take_one(queue)
        assert (again.id, again.body, again.attempts) == (env.id, env.body, 2)
        assert again.receipt != first.receipt
        kit.broker.ack([first])
        assert kit.stats(queue) == QueueStats(in_flight=1), "the old receipt must not ack the new lease"

    def test_nack_without_counting_gives_the_attempt_back(self, kit: Harness) -> None:
        queue = kit.queue()
        kit.put(queue)
        kit.broker.nack(kit.take_one(queue), count_attempt=False)
        second = kit.take_one(queue)
        assert second.attempts == 1
        kit.broker.nack(second)
        assert kit.take_one(queue).attempts == 2

    @requires("delays")
    def test_nack_with_delay_returns_the_job_later(self, kit: Harness) -> None:
        queue = kit.queue()
        later, soon = kit.put(queue, 2)
        for delivery in kit.take(queue, 2, limit=2):
            kit.broker.nack(delivery, delay=HOLD if delivery.id == later.id else kit.short)
        if kit.injected:
            assert kit.reserve(queue, 10) == []
        kit.outlive(kit.short)
        back = kit.eventually(lambda: kit.reserve_one(queue), "the job nacked with a short delay to come back")
        assert (back.id, back.attempts) == (soon.id, 2)
        assert kit.reserve(queue, 10) == [], "a job nacked with a long delay came back early"
        assert kit.stats(queue) == QueueStats(delayed=1, in_flight=1)

    @requires("delays")
    def test_delayed_job_not_reservable_before_due(self, kit: Harness) -> None:
        queue = kit.queue()
        [later] = kit.put(queue, delay=HOLD)
        [soon] = kit.put(queue, delay=kit.short)
        if kit.injected:
            assert kit.reserve(queue, 10) == []
            assert kit.stats(queue) == QueueStats(delayed=2)
            kit.pass_time(kit.short / 2)
            assert kit.reserve(queue, 10) == []
        kit.outlive(kit.short)
        got = kit.eventually(lambda: kit.reserve_one(queue), "the delayed job to become due")
        assert (got.id, got.body, got.attempts) == (soon.id, soon.body, 1)
        assert kit.reserve(queue, 10) == [], "a job delayed an hour came out early"
        assert kit.stats(queue) == QueueStats(delayed=1, in_flight=1)
        assert later.id != got.id
