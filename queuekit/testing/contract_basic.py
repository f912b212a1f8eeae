"""Conformance tests: enqueue, reserve, ordering, queues, limits, waiting, close."""

from __future__ import annotations

import threading

from queuekit.broker import Delivery, QueueStats
from queuekit.testing.capabilities import requires
from queuekit.testing.harness import Harness


class BasicContract:
    """Moving messages: what every broker must do, whatever it declares."""

    def test_round_trip_keeps_body_and_routing(self, kit: Harness) -> None:
        queue = kit.queue()
        body = bytes(range(256)) * 4 + "ünïcode ✓".encode()
        env = kit.envelope(queue, body, priority=3)
        assert kit.broker.enqueue([env]) == [env.id]
        got = kit.take_one(queue)
        assert (got.id, got.queue, got.body, got.priority) == (env.id, queue, body, 3)
        assert got.attempts == 1
        assert got.receipt, "a delivery needs a receipt to fence its lease"

    def test_large_body_round_trip(self, kit: Harness) -> None:
        queue = kit.queue()
        body = bytes(i % 251 for i in range(256 * 1024))
        env = kit.envelope(queue, body)
        kit.broker.enqueue([env])
        assert kit.take_one(queue).body == body

    def test_batch_enqueue_returns_ids_in_order(self, kit: Harness) -> None:
        queue = kit.queue()
        batch = [kit.envelope(queue) for _ in range(25)]
        assert kit.broker.enqueue(batch) == [env.id for env in batch]
        assert kit.stats(queue).ready == 25
        got = kit.take(queue, 25, limit=10)
        assert sorted(d.id for d in got) == sorted(env.id for env in batch)
        assert {d.id: d.body for d in got} == {env.id: env.body for env in batch}

    def test_empty_batch_enqueue_is_a_no_op(self, kit: Harness) -> None:
        assert kit.broker.enqueue([]) == []

    @requires("fifo")
    def test_fifo_within_one_priority(self, kit: Harness) -> None:
        queue = kit.queue()
        singles = kit.put(queue, 5)
        batch = [kit.envelope(queue) for _ in range(5)]
        kit.broker.enqueue(batch)
        got = kit.take(queue, 10, limit=3)
        assert [d.id for d in got] == [env.id for env in [*singles, *batch]]

    @requires("priorities")
    def test_higher_priority_first(self, kit: Harness) -> None:
        queue = kit.queue()
        sent = [kit.envelope(queue, priority=p) for p in (1, 5, 3, 5, 0, 9)]
        kit.broker.enqueue(sent)
        got = kit.take(queue, len(sent))
        assert [d.priority for d in got] == [9, 5, 5, 3, 1, 0]
        if kit.broker.capabilities.fifo:
            fives = [env.id for env in sent if env.priority == 5]
            assert [d.id for d in got if d.priority == 5] == fives

    @requires("priorities")
    def test_priority_applies_to_a_batch_reserve(self, kit: Harness) -> None:
        queue = kit.queue()
        low = kit.put(queue, 3, priority=1)
        high = kit.put(queue, 2, priority=7)
        got = kit.take(queue, 5, limit=5)
        assert {d.id for d in got[:2]} == {env.id for env in high}
        assert {d.id for d in got[2:]} == {env.id for env in low}

    def test_reserve_from_several_queues(self, kit: Harness) -> None:
        first, second = kit.queue("a"), kit.queue("b")
        sent = kit.put(first, 2) + kit.put(second, 2)
        got = kit.take([first, second], 4, limit=4)
        assert {(d.id, d.queue) for d in got} == {(env.id, env.queue) for env in sent}

    def test_queues_are_isolated(self, kit: Harness) -> None:
        mine, other = kit.queue("mine"), kit.queue("other")
        [env] = kit.put(mine)
        assert kit.reserve(other, 10) == []
        assert kit.stats(other) == QueueStats()
        assert kit.broker.purge(other) == 0
        assert kit.broker.dead_letters(other) == []
        assert kit.take_one(mine).id == env.id

    def test_reserve_respects_limit(self, kit: Harness) -> None:
        queue = kit.queue()
        sent = kit.put(queue, 5)
        first = kit.eventually(lambda: kit.reserve(queue, 3), "a first reserve(limit=3) to return jobs")
        rest = kit.take(queue, 5 - len(first), limit=3)
        assert sorted(d.id for d in first + rest) == sorted(env.id for env in sent)
        assert kit.reserve(queue, 3) == []

    def test_reserve_on_empty_queue_returns_nothing(self, kit: Harness) -> None:
        queue = kit.queue()
        assert kit.broker.reserve([queue], 5, 30.0) == []
        assert kit.broker.reserve([queue], 5, 30.0, wait=0.2) == []

    def test_reserve_wait_wakes_when_a_job_arrives(self, kit: Harness) -> None:
        queue = kit.queue()
        found: list[list[Delivery]] = []
        calling = threading.Event()

        def wait_for_a_job() -> None:
            calling.set()
            found.append(kit.broker.reserve([queue], 1, 60.0, wait=kit.patience * 2))

        threading.Thread(target=wait_for_a_job, daemon=True).start()
        assert calling.wait(kit.patience), "the waiting consumer thread did not start"
        [env] = kit.put(queue)
        kit.eventually(lambda: found, "reserve(wait=...) to return once a job arrived")
        assert [d.id for d in found[0]] == [env.id]

    def test_close_twice_is_safe(self, kit: Harness) -> None:
        other = kit.open_another()
        other.close()
        other.close()
        kit.broker.close()
        kit.broker.close()
