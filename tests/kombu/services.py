"""Shared Redis and RabbitMQ for the kombu tests: reachability and cleanup."""

from __future__ import annotations

import os
from collections.abc import Iterable

import kombu
from queuekit_kombu import KombuBroker
from queuekit_kombu.broker import dead_queue

from tests.support import service_unavailable

REDIS_URL = os.environ.get("QUEUEKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("QUEUEKIT_TEST_AMQP_URL_KOMBU", "amqp://guest:guest@127.0.0.1:5672//")


def _reachable_or_skip(url: str, what: str) -> str:
    connection = kombu.Connection(url, connect_timeout=2)
    try:
        connection.ensure_connection(max_retries=1)
    except Exception as exc:
        service_unavailable(f"{what}: {type(exc).__name__}: {exc}")
    finally:
        connection.release()
    return url


def redis_url_or_skip() -> str:
    """The shared Redis as a kombu URL; skip when it does not answer."""
    return _reachable_or_skip(REDIS_URL, "redis at 127.0.0.1:6379")


def amqp_url_or_skip() -> str:
    """The shared RabbitMQ as a kombu URL; skip when it does not answer."""
    return _reachable_or_skip(AMQP_URL, "rabbitmq at 127.0.0.1:5672")


def cleanup(brokers: Iterable[KombuBroker]) -> None:
    """Close the brokers and delete every queue they declared (Redis keys go with the prefix)."""
    for broker in brokers:
        queues = {name for name in broker._declared if "@" not in name}
        broker.close()
        if broker.target.transport == "memory" or not queues:
            continue
        with kombu.Connection(broker.target.kombu_url, transport_options=broker.target.options) as connection:
            channel = connection.channel()
            for name in queues:
                for each in (name, dead_queue(name)):
                    channel.queue_delete(each)
