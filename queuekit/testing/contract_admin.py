"""Conformance tests: dead letters, requeueing them, purging, and stats."""

from __future__ import annotations

from queuekit.broker import QueueStats
from queuekit.testing.capabilities import requires
from queuekit.testing.harness import HOLD, Harness


class AdminContract:
    """What operators rely on: the dead-letter store, purge and the counts per state."""

    def test_dead_letter_records_reason_and_attempts(self, kit: Harness) -> None:
        queue = kit.queue()
        [env] = kit.put(queue)
        kit.broker.nack([(kit.take_one(queue), 0.0)])
        doomed = kit.take_one(queue)
        kit.broker.dead_letter([(doomed, "exception: ValueError: boom")])
        [letter] = kit.broker.dead_letters(queue)
        assert (letter.id, letter.queue, letter.body) == (env.id, queue, env.body)
        assert (letter.reason, letter.attempts) == ("exception: ValueError: boom", 2)
        if kit.clock is not None:
            assert letter.dead_at == kit.clock(), "dead_at must come from the broker's clock"
        assert kit.stats(queue) == QueueStats(dead=1)
        assert kit.reserve(queue, 10) == []

    def test_dead_letter_of_a_batch_keeps_each_reason_in_order(self, kit: Harness) -> None:
        first, second, (one, two, acked, other) = kit.held_in_two_queues()  # acked's receipt is stale
        kit.broker.dead_letter([])
        kit.broker.dead_letter([(two, "reason two"), (acked, "stale"), (other, "reason other"), (one, "reason one")])
        letters = {queue: kit.broker.dead_letters(queue) for queue in (first, second)}
        assert [(d.id, d.reason, d.attempts) for d in letters[first]] == [
            (two.id, "reason two", 1), (one.id, "reason one", 1)], "a batch's letters list in the batch's order"
        assert [(d.id, d.reason, d.queue) for d in letters[second]] == [(other.id, "reason other", second)]
        assert (kit.stats(first), kit.stats(second)) == (QueueStats(dead=2), QueueStats(dead=1))
        assert kit.reserve([first, second], 10) == []
        kit.broker.dead_letter([(one, "again"), (other, "again")])
        assert [d.reason for d in kit.broker.dead_letters(first)] == ["reason two", "reason one"]

    def test_dead_letters_list_oldest_first_with_limit(self, kit: Harness) -> None:
        queue = kit.queue()
        sent = kit.put(queue, 3)
        for index, env in enumerate(sent):
            delivery = kit.take_one(queue)
            assert delivery.id == env.id or not kit.broker.capabilities.fifo
            kit.broker.dead_letter([(delivery, f"reason {index}")])
            kit.pass_time(1.0)
        order = [d.id for d in kit.broker.dead_letters(queue)]
        assert sorted(order) == sorted(env.id for env in sent)
        assert [d.id for d in kit.broker.dead_letters(queue, limit=2)] == order[:2]
        reasons = {d.id: d.reason for d in kit.broker.dead_letters(queue)}
        assert sorted(reasons.values()) == ["reason 0", "reason 1", "reason 2"]
        dead_order = [env.id for env in sorted(sent, key=lambda e: reasons[e.id])]
        assert order == dead_order, "dead letters must be listed oldest first"

    def test_requeue_dead_resets_attempts(self, kit: Harness) -> None:
        queue = kit.queue()
        [env] = kit.put(queue)
        kit.broker.nack([(kit.take_one(queue), 0.0)])
        kit.broker.dead_letter([(kit.take_one(queue), "gave up")])
        assert kit.broker.requeue_dead(queue) == 1
        assert kit.broker.dead_letters(queue) == []
        assert kit.stats(queue) == QueueStats(ready=1)
        back = kit.take_one(queue)
        assert (back.id, back.body, back.attempts) == (env.id, env.body, 1)

    def test_requeue_dead_by_id(self, kit: Harness) -> None:
        queue = kit.queue()
        kit.put(queue, 3)
        for delivery in kit.take(queue, 3, limit=3):
            kit.broker.dead_letter([(delivery, "gave up")])
        chosen = kit.broker.dead_letters(queue)[1].id
        assert kit.broker.requeue_dead(queue, [chosen, "no-such-id"]) == 1
        assert chosen not in {d.id for d in kit.broker.dead_letters(queue)}
        assert kit.stats(queue) == QueueStats(ready=1, dead=2)
        assert kit.take_one(queue).id == chosen
        assert kit.broker.requeue_dead(queue, []) == 0
        assert kit.broker.requeue_dead(queue) == 2

    @requires("priorities")
    def test_requeue_dead_keeps_priority(self, kit: Harness) -> None:
        queue = kit.queue()
        [urgent] = kit.put(queue, priority=9)
        kit.broker.dead_letter([(kit.take_one(queue), "gave up")])
        [normal] = kit.put(queue, priority=1)
        kit.broker.requeue_dead(queue)
        first = kit.take_one(queue)
        assert (first.id, first.priority) == (urgent.id, 9)
        assert kit.take_one(queue).id == normal.id

    def test_purge_dead(self, kit: Harness) -> None:
        queue, other = kit.queue("a"), kit.queue("b")
        kit.put(queue, 2)
        kit.put(other)
        for delivery in kit.take([queue, other], 3, limit=3):
            kit.broker.dead_letter([(delivery, "gave up")])
        assert kit.broker.purge_dead(queue) == 2
        assert kit.broker.dead_letters(queue) == []
        assert kit.stats(queue) == QueueStats()
        assert kit.broker.purge_dead(queue) == 0
        assert len(kit.broker.dead_letters(other)) == 1

    def test_purge_deletes_ready_and_delayed_but_not_leased_or_dead(self, kit: Harness) -> None:
        queue = kit.queue()
        kit.put(queue, 2)
        held, doomed = kit.take(queue, 2, limit=2)
        kit.broker.dead_letter([(doomed, "gave up")])
        kit.put(queue, 2)
        if kit.broker.capabilities.delays:
            kit.put(queue, delay=HOLD)
        expected = 3 if kit.broker.capabilities.delays else 2
        assert kit.broker.purge(queue) == expected
        assert kit.stats(queue) == QueueStats(in_flight=1, dead=1)
        assert kit.reserve(queue, 10) == []
        assert kit.broker.extend([held], HOLD) == set()
        kit.broker.ack([held])
        assert kit.stats(queue) == QueueStats(dead=1)

    @requires("lease_expiry")
    def test_purge_deletes_a_job_whose_lease_expired(self, kit: Harness) -> None:
        queue = kit.queue()
        kit.put(queue)
        kit.take_one(queue, lease=kit.short)
        kit.outlive(kit.short)
        purged: list[int] = []

        def purge() -> bool:
            purged.append(kit.broker.purge(queue))
            return sum(purged) > 0

        kit.eventually(purge, "purge to delete the job whose lease expired")
        assert sum(purged) == 1
        assert kit.stats(queue) == QueueStats()

    def test_stats_count_each_state(self, kit: Harness) -> None:
        queue = kit.queue()
        kit.put(queue, 2)
        held, doomed = kit.take(queue, 2, limit=2)
        kit.broker.dead_letter([(doomed, "gave up")])
        kit.put(queue, 2)
        delayed = 0
        if kit.broker.capabilities.delays:
            kit.put(queue, delay=HOLD)
            delayed = 1
        expected = QueueStats(ready=2, delayed=delayed, in_flight=1, dead=1)
        assert kit.broker.stats([queue]) == {queue: expected}
        assert kit.broker.stats()[queue] == expected
        assert held.queue == queue

    def test_stats_of_an_unused_queue_are_zero(self, kit: Harness) -> None:
        unused = kit.queue("unused")
        assert kit.broker.stats([unused]) == {unused: QueueStats()}
