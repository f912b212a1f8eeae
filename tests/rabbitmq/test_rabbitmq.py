"""RabbitMQ-specific behaviour beyond the conformance kit: typed publish errors, the delay
ladder, attempt counting across crashes, heartbeats under long tasks, reconnects, results."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pytest
from queuekit_rabbitmq import RabbitBroker, Unroutable
from queuekit_rabbitmq.publisher import Outgoing
from queuekit_rabbitmq.topology import delay_route

from queuekit import App
from queuekit.broker import Delivery, Envelope, QueueStats
from queuekit.errors import ConfigurationError
from tests.rabbitmq.servers import close_connections, connections_from, delete_queues, shared_url_or_skip
from tests.support import wait_until

pytestmark = pytest.mark.service


@pytest.fixture
def queue() -> Iterator[str]:
    name = f"qk-rmq-{uuid.uuid4().hex[:10]}"
    yield name
    delete_queues([name])


@pytest.fixture
def broker() -> Iterator[RabbitBroker]:
    opened = RabbitBroker(shared_url_or_skip())
    yield opened
    opened.close()


def env(queue: str, **fields: object) -> Envelope:
    job_id = uuid.uuid4().hex
    return Envelope(job_id, queue, f"body-{job_id}".encode(), **fields)  # type: ignore[arg-type]


def delete_queue_behind_its_back(name: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(shared_url_or_skip()))
    connection.channel().queue_delete(name)
    connection.close()


@pytest.mark.parametrize("size", [1, 3])
def test_unroutable_message_raises_a_typed_error(broker: RabbitBroker, queue: str, size: int) -> None:
    broker.enqueue([env(queue)])
    delete_queue_behind_its_back(queue)  # the broker still believes the queue is declared
    with pytest.raises(Unroutable, match="no queue is bound"):
        broker.enqueue([env(queue) for _ in range(size)])
    broker.topology.forget()
    [again] = broker.enqueue([env(queue)])
    assert broker.stats([queue])[queue].ready == 1, f"the broker must keep working after the error ({again})"


def test_batch_enqueue_is_confirmed_as_a_whole(broker: RabbitBroker, queue: str) -> None:
    batch = [env(queue) for _ in range(2000)]
    assert broker.enqueue(batch) == [e.id for e in batch]
    assert broker.stats([queue])[queue] == QueueStats(ready=2000)


def test_delay_route_is_the_binary_expansion_of_the_milliseconds() -> None:
    top, key, ms = delay_route(1.0005)
    assert ms == 1001 and top == 9
    assert int(key.replace(".", ""), 2) == 1001
    assert delay_route(0.0001)[2] == 1  # rounded up: never early


@pytest.mark.parametrize("delay", [0.05, 0.3, 1.1])
def test_delayed_job_arrives_after_its_delay(broker: RabbitBroker, queue: str, delay: float) -> None:
    job = env(queue, delay=delay)
    sent = time.monotonic()
    broker.enqueue([job])
    got = broker.reserve([queue], 1, 30.0, wait=30.0)
    arrived = time.monotonic()
    assert [d.id for d in got] == [job.id]
    assert arrived - sent >= delay, "a delayed job must never come early"
    assert got[0].attempts == 1


def test_priority_outside_the_amqp_range_round_trips(broker: RabbitBroker, queue: str) -> None:
    sent = [env(queue, priority=p) for p in (-5, 50, 3)]
    broker.enqueue(sent)
    got = [broker.reserve([queue], 1, 30.0)[0] for _ in sent]
    assert [d.priority for d in got] == [50, 3, -5]


def test_a_crashed_holder_counts_as_an_attempt(queue: str) -> None:
    url = shared_url_or_skip()
    first, second = RabbitBroker(url), RabbitBroker(url)
    try:
        [job] = [env(queue)]
        first.enqueue([job])
        [held] = first.reserve([queue], 1, 30.0, wait=10.0)
        assert held.attempts == 1
        first.consumer.link.close()  # its channel closes with the delivery unacked, as in a crash
        [again] = second.reserve([queue], 1, 30.0, wait=10.0)
        assert (again.id, again.attempts) == (job.id, 2)
        second.ack([again])
        assert second.stats([queue])[queue] == QueueStats()
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("ack_before_it_returns", [False, True])
def test_a_server_side_cut_keeps_the_held_job_and_its_ack_settles_it(
    broker: RabbitBroker, queue: str, ack_before_it_returns: bool
) -> None:
    """RabbitMQ redelivers what a cut channel held; the worker still running it keeps its receipt.

    Either the redelivery arrives first and is adopted by the old receipt (whose ack then
    settles the new delivery tag), or the ack comes first and the redelivery is acked on
    arrival. The job is never handed out a second time.
    """
    job = env(queue)
    broker.enqueue([job])
    [held] = broker.reserve([queue], 1, 30.0, wait=10.0)
    consumer_before = broker.consumer.link.generation
    close_connections(connections_from(os.getpid()))
    if ack_before_it_returns:
        broker.ack([held])
    wait_until(lambda: broker.consumer.link.generation > consumer_before and broker.consumer.link.ready.is_set(),
               timeout=30, what="the consumer to reconnect")
    if not ack_before_it_returns:
        wait_until(lambda: broker.consumer.local_counts()[1] != {}, timeout=30, what="the redelivery's adoption")
        assert broker.extend([held], 30.0) == set(), "the held job was reported lost though it came back"
        broker.ack([held])
    assert broker.reserve([queue], 1, 30.0, wait=2.0) == [], "a job still held or finished was handed out again"
    assert broker.stats([queue])[queue] == QueueStats()
    assert broker.consumer.link.channel is not None and broker.consumer.link.channel.is_open


def test_heartbeats_continue_while_a_task_runs_longer_than_the_timeout(queue: str) -> None:
    app = App(shared_url_or_skip() + "?heartbeat=1", default_queue=queue)
    ran: list[float] = []

    @app.task(name=f"{queue}.slow", store_result=False)
    def slow() -> None:
        time.sleep(4)  # four heartbeat intervals; the pool thread holds the GIL only briefly
        ran.append(time.monotonic())

    slow.delay()
    worker = app.worker(concurrency=1)
    thread = worker.start()
    try:
        wait_until(lambda: ran, timeout=60, what="the slow task to finish")
        wait_until(lambda: worker.counts["ack"] == 1, timeout=30, what="its ack")
        broker = app.broker
        assert isinstance(broker, RabbitBroker)
        assert broker.consumer.link.generation == 1, "the consumer connection must not have been dropped"
        assert len(ran) == 1
    finally:
        worker.stop()
        thread.join(30)
        app.close()


def test_results_come_from_a_separate_store(queue: str) -> None:
    app = App(shared_url_or_skip(), results=f"memory://rmq-results-{queue}", default_queue=queue)

    @app.task(name=f"{queue}.add")
    def add(x: int, y: int) -> int:
        return x + y

    job = add.delay(2, 3)
    worker = app.worker(concurrency=2)
    thread = worker.start()
    try:
        assert job.result(timeout=30) == 5
        assert job.status().value == "succeeded"
    finally:
        worker.stop()
        thread.join(30)
        app.close()


def test_bad_options_are_named_and_credentials_never_shown() -> None:
    with pytest.raises(ConfigurationError, match="queue_type"):
        RabbitBroker("amqp://guest:s3cret@127.0.0.1/?queue_type=stream")
    with pytest.raises(ConfigurationError, match="prefetch"):
        RabbitBroker("amqp://guest:s3cret@127.0.0.1/?prefetch=0")
    broker = RabbitBroker("amqp://guest:s3cret@127.0.0.1/")
    try:
        assert "s3cret" not in repr(broker) and "***" in repr(broker)
    finally:
        broker.close()


def test_many_threads_enqueue_at_once(broker: RabbitBroker, queue: str) -> None:
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            for _ in range(50):
                broker.enqueue([env(queue)])
            broker.enqueue([env(queue) for _ in range(50)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=produce) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert broker.stats([queue])[queue].ready == 400


def test_stop_consuming_hands_back_the_prefetch_and_keeps_handed_back_jobs_away(queue: str) -> None:
    url = shared_url_or_skip()
    stopping, other = RabbitBroker(url + "?prefetch=10"), RabbitBroker(url)
    try:
        jobs = [env(queue) for _ in range(5)]
        stopping.enqueue(jobs)
        running, unstarted = stopping.reserve([queue], 2, 30.0, wait=10.0)
        wait_until(lambda: stopping.consumer.local_counts()[0].get(queue) == 3, timeout=30,
                   what="the other three to be prefetched")
        stopping.stop_consuming([queue])
        assert stopping.consumer.local_counts()[0].get(queue, 0) == 0
        assert other.stats([queue])[queue].ready == 3, "the unreserved prefetch is back in RabbitMQ"
        stopping.nack([(unstarted, 0.0)], count_attempt=False)  # a stopping worker's hand-back
        stopping.ack([running])  # held deliveries can still be settled
        assert other.stats([queue])[queue].ready == 4, "the hand-back is not pushed back to the stopped consumer"
        again = other.reserve([queue], 10, 30.0)
        assert sorted(d.id for d in again) == sorted(j.id for j in jobs if j.id != running.id)
        assert {d.attempts for d in again} == {1}, "nothing handed back spent an attempt"
        other.ack(again)
        assert other.stats([queue])[queue] == QueueStats()
    finally:
        stopping.close()
        other.close()


def test_raising_the_prefetch_strands_no_delivery_in_flight(broker: RabbitBroker, queue: str) -> None:
    """Each round acks what it holds and at once reserves more than the window allows.

    The ack frees the window, so RabbitMQ is pushing the next messages while the larger
    reserve raises the prefetch: those deliveries are in flight during the raise. Every
    message must reach the caller on its first delivery, none twice, and before a deadline.
    """
    rounds = 24
    jobs = [env(queue) for _ in range(rounds * (rounds + 1) // 2 + rounds)]
    broker.enqueue(jobs)
    seen: dict[str, int] = {}
    held: list[Delivery] = []
    for limit in range(1, rounds + 1):
        broker.ack(held)
        held = broker.reserve([queue], limit, 30.0, wait=10.0)
        assert held, f"round {limit}: nothing delivered within the wait"
        for delivery in held:
            seen[delivery.id] = delivery.attempts
    broker.ack(held)

    _drain_into(seen, broker, queue, len(jobs))
    assert sorted(seen) == sorted(job.id for job in jobs)
    redelivered = {job_id: n for job_id, n in seen.items() if n != 1}
    assert not redelivered, f"{len(redelivered)} deliveries came back as a second attempt during a prefetch raise"
    assert broker.stats([queue])[queue] == QueueStats()


def _drain_into(seen: dict[str, int], broker: RabbitBroker, queue: str, total: int) -> None:
    """Reserve and ack until ``seen`` (job id -> attempts of its last delivery) holds ``total`` jobs."""

    def drained() -> bool:
        got = broker.reserve([queue], 100, 30.0, wait=0.5)
        seen.update((d.id, d.attempts) for d in got)
        broker.ack(got)
        return len(seen) == total

    wait_until(drained, timeout=60, what="every message to be delivered")


def test_stop_consuming_spends_no_attempt_of_a_delivery_in_flight(queue: str) -> None:
    """An ack frees the window and ``stop_consuming`` follows at once, while RabbitMQ pushes.

    What RabbitMQ sent before its ``cancel-ok`` is handed back unspent like the rest of
    the prefetch: another consumer gets every message on its first attempt.
    """
    url = shared_url_or_skip()
    rounds, size = 8, 20
    jobs = [env(queue) for _ in range(rounds * size * 2)]
    other = RabbitBroker(url)
    seen: dict[str, int] = {}
    try:
        other.enqueue(jobs)
        for _ in range(rounds):
            stopping = RabbitBroker(url + f"?prefetch={size}")
            try:
                held = stopping.reserve([queue], size, 30.0, wait=10.0)
                seen.update((d.id, d.attempts) for d in held)
                stopping.ack(held)
                stopping.stop_consuming([queue])
            finally:
                stopping.close()
        _drain_into(seen, other, queue, len(jobs))
    finally:
        other.close()
    assert sorted(seen) == sorted(job.id for job in jobs)
    spent = {job_id: n for job_id, n in seen.items() if n != 1}
    assert not spent, f"{len(spent)} deliveries in flight at stop_consuming came back as a second attempt"


def test_a_queue_deleted_under_grown_consumers_is_consumed_again(broker: RabbitBroker, queue: str) -> None:
    """A grown prefetch means several consumers on the queue; RabbitMQ cancels them all when it goes."""
    broker.enqueue([env(queue) for _ in range(12)])
    for limit in (1, 4, 8):  # each raise adds a consumer
        broker.ack(broker.reserve([queue], limit, 30.0, wait=10.0))
    assert len(broker.consumer._active[queue]) == 3
    delete_queue_behind_its_back(queue)
    wait_until(lambda: queue not in broker.consumer._active, timeout=30, what="the server's cancels")
    job = env(queue)
    broker.enqueue([job])  # declares the queue again
    got = broker.reserve([queue], 1, 30.0, wait=10.0)
    assert [(d.id, d.attempts) for d in got] == [(job.id, 1)]
    broker.ack(got)
    assert len(broker.consumer._active[queue]) == 1, "one consumer, with the whole window, on the new queue"


def test_pipelined_gets_take_the_heads_in_order_and_stop_at_empty(broker: RabbitBroker, queue: str) -> None:
    """A non-blocking reserve sends its basic.gets several at a time (1, 2, 4, ...): it still takes
    the queue's best first, exactly ``limit`` of them, and the empty answers of the last round end it."""
    other = f"{queue}-b"
    sent = [env(queue, priority=i % 7) for i in range(40)]
    broker.enqueue(sent)
    broker.enqueue([env(other) for _ in range(3)])
    try:
        first = broker.reserve([queue], 25, 30.0)
        expected = sorted(sent, key=lambda e: -e.priority)  # stable: FIFO within a priority
        assert [d.id for d in first] == [e.id for e in expected[:25]]
        rest = broker.reserve([queue, other], 100, 30.0)
        assert [d.id for d in rest[:15]] == [e.id for e in expected[25:]]
        assert len(rest) == 18 and {d.queue for d in rest[15:]} == {other}
        assert broker.reserve([queue, other], 100, 30.0) == []
        broker.ack(first + rest)
    finally:
        broker.delete_queue(other)


def test_publishing_on_the_io_thread_sends_at_once_through_pikas_transport(broker: RabbitBroker, queue: str) -> None:
    """``Link.flush`` uses pika's transport internals; it fails here if a pika release renames them."""
    broker.enqueue([env(queue)])  # connected, queue declared
    link = broker.publisher.link
    transport = link.connection._transport
    assert hasattr(transport, "_tx_buffers") and callable(transport._on_socket_writable)
    buffered: list[int] = []
    settled = threading.Event()
    errors: list[BaseException | None] = []

    def settle(error: BaseException | None) -> None:
        errors.append(error)
        settled.set()

    def publish_two(resolve: Any, _reject: Any) -> None:
        messages = [Outgoing("", queue, b"x", pika.BasicProperties(delivery_mode=2, message_id=f"m{n}"))
                    for n in range(2)]
        broker.publisher.publish_io(messages, settle)
        buffered.append(len(transport._tx_buffers))
        resolve(None)

    broker._io.call(publish_two, 10.0)
    assert buffered == [0], "sent when published, not on the loop's next turn"
    assert settled.wait(10) and errors == [None]
    assert broker.stats([queue])[queue].ready == 3
