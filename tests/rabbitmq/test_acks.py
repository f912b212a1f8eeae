"""Acks on the consumer channel: multiple acks for the window's head, waiting tags, releases.

No server: a stand-in channel records every ``basic_ack`` and ``basic_nack``; the consumer's
I/O thread is real, so the coalescing and the hold run on pika's own timers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pika  # type: ignore[import-untyped]
import pytest
from queuekit_rabbitmq.acks import AckWindow
from queuekit_rabbitmq.consumer import Consumer
from queuekit_rabbitmq.gets import Held
from queuekit_rabbitmq.io import IoThread
from queuekit_rabbitmq.settings import parse

from tests.support import wait_until


class Channel:
    """Records ("ack", tag, multiple) and ("requeue", tag)."""

    is_open = True

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def basic_ack(self, tag: int, multiple: bool = False) -> None:
        self.sent.append(("ack", tag, multiple))

    def basic_nack(self, tag: int, requeue: bool = True) -> None:
        self.sent.append(("requeue", tag))


def window_with(tags: range) -> AckWindow:
    window = AckWindow()
    for tag in tags:
        window.delivered(tag)
    return window


def test_the_settled_head_goes_out_as_one_multiple_ack() -> None:
    channel, window = Channel(), window_with(range(1, 6))
    assert window.ack(channel, [2, 1, 3]) is False
    assert channel.sent == [("ack", 3, True)]


def test_tags_behind_an_unsettled_head_wait_for_it_when_held() -> None:
    channel, window = Channel(), window_with(range(1, 6))
    assert window.ack(channel, [2, 3, 5], hold=True) is True
    assert channel.sent == [] and window.waiting == 3
    assert window.ack(channel, [1], hold=True) is True  # 1-3 go; 5 still waits behind 4
    assert channel.sent == [("ack", 3, True)] and window.waiting == 1
    assert window.ack(channel, [4], hold=True) is False
    assert channel.sent == [("ack", 3, True), ("ack", 5, True)] and window.waiting == 0


def test_without_hold_or_on_release_waiting_tags_are_acked_singly_and_only_once() -> None:
    channel, window = Channel(), window_with(range(1, 7))
    window.ack(channel, [2])
    assert channel.sent == [("ack", 2, False)]
    window.ack(channel, [4, 5], hold=True)
    window.release(channel)
    assert sorted(channel.sent[1:]) == [("ack", 4, False), ("ack", 5, False)]
    window.requeue(channel, 3)
    sent = len(channel.sent)
    window.ack(channel, [1], hold=True)  # 1 settles: the head runs past 2-5, sent already
    assert channel.sent[sent:] == [("ack", 1, True)] and window.waiting == 0
    window.ack(channel, [6])
    assert channel.sent[-1] == ("ack", 6, True)


@pytest.fixture
def consumer() -> Iterator[tuple[Consumer, Channel]]:
    io = IoThread("test-acks-io")
    consumer = Consumer(io, parse("amqp://guest:guest@127.0.0.1:9/%2F"), None, None)  # type: ignore[arg-type]
    channel = Channel()
    consumer.link.channel = channel

    def setup(resolve: Any, _reject: Any) -> None:
        consumer._io_generation = 1
        for tag in range(1, 9):
            consumer._window.delivered(tag)
        resolve(None)

    io.call(setup, 10.0)
    with consumer._cond:
        consumer._generation = 1
        for tag in range(1, 9):
            properties = pika.BasicProperties(message_id=f"job-{tag}")
            consumer._held[f"1.{tag}"] = Held(1, tag, "q", b"", properties, 0, f"1.{tag}")
    yield consumer, channel
    io.stop()


def test_the_worker_acks_wait_for_the_head_then_a_stuck_head_releases_them(
    consumer: tuple[Consumer, Channel],
) -> None:
    worker, channel = consumer
    worker.ack(["1.2", "1.3"])
    wait_until(lambda: worker.io.call(lambda resolve, _r: resolve(worker._window.waiting), 10.0) == 2,
               what="tags 2 and 3 waiting behind 1")
    worker.ack(["1.1"])
    wait_until(lambda: ("ack", 3, True) in channel.sent, what="one multiple ack for 1-3")
    assert channel.sent == [("ack", 3, True)]
    worker.ack(["1.5"])  # 4 runs on: 5 is released on its own within the hold
    wait_until(lambda: ("ack", 5, False) in channel.sent, what="5 released while 4 is unsettled")
    assert channel.sent == [("ack", 3, True), ("ack", 5, False)]


def test_closing_sends_the_acks_still_waiting(consumer: tuple[Consumer, Channel]) -> None:
    worker, channel = consumer
    worker.ack(["1.7", "1.8"])
    worker.io.call(worker._send_held_acks, 10.0)
    assert sorted(channel.sent) == [("ack", 7, False), ("ack", 8, False)]
