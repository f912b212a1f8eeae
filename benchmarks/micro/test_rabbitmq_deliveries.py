"""Why the RabbitMQ consumer connection reads runs of deliveries itself (``queuekit_rabbitmq.frames``).

The same received bytes, ten deliveries of a 240-byte body with a message id and one
header, go through ``_on_data_available`` of an unconnected connection: pika's own
``SelectConnection`` and channel, and queuekit's ``_Connection`` and ``_KeepingChannel``.
Both end in the consumer's callback. The fast path stays while its median beats pika's:

    pytest benchmarks/micro/test_rabbitmq_deliveries.py --benchmark-group-by=group --benchmark-columns=median,ops
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pika  # type: ignore[import-untyped]
import pika.channel  # type: ignore[import-untyped]
import pytest
from pika.adapters.select_connection import IOLoop  # type: ignore[import-untyped]
from queuekit_rabbitmq.io import _Connection, _KeepingChannel

from tests.rabbitmq.test_frames import deliver

RUN = 10
BUFFER = b"".join(
    deliver(1, tag, b"x" * 240, message_id=f"job-{tag}", delivery_mode=2, headers={"x-qk-attempts": 0})
    for tag in range(1, RUN + 1)
)


def _reader(connection_class: type[Any], channel_class: type[Any]) -> tuple[Callable[[], None], list[int]]:
    """A function that feeds BUFFER to a fresh, never connected connection; the tags its consumer got."""
    connection = connection_class(pika.ConnectionParameters(), custom_ioloop=IOLoop())
    channel = channel_class(connection, 1, lambda _channel: None)
    tags: list[int] = []
    channel._consumers["ctag-1"] = lambda _ch, method, _props, _body: tags.append(method.delivery_tag)
    connection._channels[1] = channel
    return lambda: connection._on_data_available(BUFFER), tags


@pytest.mark.benchmark(group="rabbitmq-deliveries")
def test_deliveries_pika_path(benchmark: Any) -> None:
    read, tags = _reader(pika.SelectConnection, pika.channel.Channel)
    benchmark(read)
    assert tags[:RUN] == list(range(1, RUN + 1)) and len(tags) % RUN == 0


@pytest.mark.benchmark(group="rabbitmq-deliveries")
def test_deliveries_fast_path(benchmark: Any) -> None:
    read, tags = _reader(_Connection, _KeepingChannel)
    benchmark(read)
    assert tags[:RUN] == list(range(1, RUN + 1)) and len(tags) % RUN == 0
