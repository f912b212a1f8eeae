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
        kit.broker.nack([(delivery, 0.0)])
    elif operation == "nack_delay":
        kit.broker.nack([(delivery, 5.0)])
    elif operation == "nack_uncounted":
        kit.broker.nack([(delivery, 0.0)], count_attempt=False)
    else:
        kit.broker.dead_letter([(delivery, "stale receipt")])


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
        kit.broker.nack([(first, 0.0)])
        again = kit.take_one(queue)
        assert (again.id, again.body, again.attempts) == (env.id, env.body, 2)
        assert again.receipt != first.receipt
        kit.broker.ack([first])
        assert kit.stats(queue) == QueueStats(in_flight=1), "the old receipt must not ack the new lease"

    def test_nack_without_counting_gives_the_attempt_back(self, kit: Harness) -> None:
        queue = kit.queue()
        kit.put(queue)
        kit.broker.nack([(kit.take_one(queue), 0.0)], count_attempt=False)
        second = kit.take_one(queue)
        assert second.attempts == 1
        kit.broker.nack([(second, 0.0)])
        assert kit.take_one(queue).attempts == 2

    def test_nack_of_a_batch_settles_each_held_delivery(self, kit: Harness) -> None:
        first, second, (one, two, acked, other) = kit.held_in_two_queues()  # acked's receipt is stale
        kit.broker.nack([])
        kit.broker.nack([(one, 0.0), (acked, 0.0), (other, 0.0)])
        kit.broker.nack([(acked, 0.0), (two, 0.0)], count_attempt=False)
        back = kit.take([first, second], 3, limit=3)
        assert {d.id: d.attempts for d in back} == {one.id: 2, two.id: 1, other.id: 2}
        assert kit.reserve([first, second], 10) == [], "an acknowledged job came back with a batch nack"
        kit.broker.nack([(one, 0.0), (two, 0.0), (other, 0.0)])  # the receipts of the first leases
        assert (kit.stats(first), kit.stats(second)) == (QueueStats(in_flight=2), QueueStats(in_flight=1))
        kit.broker.ack(back)
        assert (kit.stats(first), kit.stats(second)) == (QueueStats(), QueueStats())

    @requires("delays")
    def test_nack_with_delay_returns_the_job_later(self, kit: Harness) -> None:
        queue = kit.queue()
        later, soon, _ = kit.put(queue, 3)
        held = kit.take(queue, 3, limit=3)
        acked = next(d for d in held if d.id not in (later.id, soon.id))
        kit.broker.ack([acked])
        # One call, a delay for each delivery, and a stale receipt among them.
        kit.broker.nack([(d, HOLD if d.id == later.id else kit.short) for d in held])
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
