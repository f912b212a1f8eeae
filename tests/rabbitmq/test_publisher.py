"""Confirms of concurrent callers on the one confirm channel: each caller waits for its own.

No server: the publisher's link gets a stand-in channel that records what is published,
and the test plays RabbitMQ's part by sending confirm frames on the I/O thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pika
import pytest
from pika import spec
from queuekit_rabbitmq.errors import PublishRejected
from queuekit_rabbitmq.io import IoThread
from queuekit_rabbitmq.publisher import Outgoing, Publisher

from queuekit.errors import ConnectionLost
from tests.support import wait_until


class Channel:
    """Records each publish's message id, in publish order (delivery tag = index + 1)."""

    is_open = True

    def __init__(self) -> None:
        self.published: list[str] = []

    def basic_publish(self, _exchange: str, _key: str, _body: bytes, properties: Any, _mandatory: bool) -> None:
        self.published.append(properties.message_id)


class Caller:
    """One thread publishing one message and keeping what ``publish`` returned or raised."""

    def __init__(self, publisher: Publisher, message_id: str) -> None:
        self.message_id = message_id
        self.error: BaseException | None = None
        self.returned = threading.Event()
        message = Outgoing("", "q", b"x", pika.BasicProperties(message_id=message_id))
        self._thread = threading.Thread(target=self._run, args=(publisher, message), daemon=True)
        self._thread.start()

    def _run(self, publisher: Publisher, message: Outgoing) -> None:
        try:
            publisher.publish([message])
        except BaseException as exc:
            self.error = exc
        self.returned.set()


@pytest.fixture
def rig() -> Iterator[tuple[IoThread, Publisher, Channel]]:
    io = IoThread("test-publisher-io")
    publisher = Publisher(io, "amqp://guest:guest@127.0.0.1:9/%2F", confirm_timeout=30.0, connect_timeout=1.0)
    channel = Channel()
    publisher.link.channel = channel
    publisher.link.wait_ready = lambda _timeout: None  # type: ignore[method-assign]  # never connects
    yield io, publisher, channel
    io.stop()


def on_io(io: IoThread, step: Any) -> None:
    def run(resolve: Any, _reject: Any) -> None:
        step()
        resolve(None)

    io.call(run, 10.0)


def confirm(io: IoThread, publisher: Publisher, method: Any) -> None:
    on_io(io, lambda: publisher._confirmed(SimpleNamespace(method=method)))


def start(publisher: Publisher, channel: Channel, count: int) -> dict[str, Caller]:
    callers = {f"m{i}": Caller(publisher, f"m{i}") for i in range(count)}
    wait_until(lambda: len(channel.published) == count, timeout=30, what=f"{count} publishes in flight at once")
    return callers


def test_concurrent_callers_are_in_flight_together_and_a_nack_fails_only_its_caller(
    rig: tuple[IoThread, Publisher, Channel],
) -> None:
    io, publisher, channel = rig
    callers = start(publisher, channel, 8)
    assert not any(c.returned.is_set() for c in callers.values()), "no caller may return before its confirm"
    nacked = channel.published[2]
    confirm(io, publisher, spec.Basic.Nack(delivery_tag=3, multiple=False))
    callers[nacked].returned.wait(10)
    assert isinstance(callers[nacked].error, PublishRejected)
    assert not any(c.returned.is_set() for c in callers.values() if c.message_id != nacked)
    confirm(io, publisher, spec.Basic.Ack(delivery_tag=5, multiple=True))  # tags 1, 2, 4, 5
    first = {channel.published[i] for i in (0, 1, 3, 4)}
    for message_id in first:
        assert callers[message_id].returned.wait(10) and callers[message_id].error is None
    assert not any(c.returned.is_set() for c in callers.values() if c.message_id not in first | {nacked})
    confirm(io, publisher, spec.Basic.Ack(delivery_tag=8, multiple=True))
    for caller in callers.values():
        assert caller.returned.wait(10)
    assert [c.message_id for c in callers.values() if c.error is not None] == [nacked]


def test_a_lost_channel_fails_exactly_the_unconfirmed_callers(rig: tuple[IoThread, Publisher, Channel]) -> None:
    io, publisher, channel = rig
    callers = start(publisher, channel, 4)
    confirm(io, publisher, spec.Basic.Ack(delivery_tag=2, multiple=True))
    confirmed = set(channel.published[:2])
    for message_id in confirmed:
        assert callers[message_id].returned.wait(10) and callers[message_id].error is None
    on_io(io, lambda: publisher._lost(1, None))
    for caller in callers.values():
        assert caller.returned.wait(10)
    lost = {c.message_id for c in callers.values() if isinstance(c.error, ConnectionLost)}
    assert lost == set(channel.published[2:])
