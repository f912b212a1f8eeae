"""Dramatiq's side of the peer workload: ``dramatiq queuekit_bench.peers.apps.dramatiq_app --processes 1``.

The broker is Dramatiq's own for the URL's scheme, at its defaults (RabbitMQ: no publisher
confirms, Dramatiq's default); the actor is a no-op that signals its completion.
"""

from __future__ import annotations

import os
from typing import Any

import dramatiq

from queuekit_bench.peers import PREFIX_ENV, QUEUE_ENV, URL_ENV
from queuekit_bench.peers.completions import notify

ACTOR = "qkbench_peer_noop"


def make_broker(url: str, namespace: str) -> Any:
    """Dramatiq's Redis or RabbitMQ broker for ``url`` (Redis keys under ``namespace``)."""
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url, namespace=namespace)  # type: ignore[no-untyped-call]
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    return RabbitmqBroker(url=url)


def declare(broker: Any, queue: str) -> Any:
    """The no-op actor on ``queue``, registered with ``broker``."""
    return dramatiq.actor(actor_name=ACTOR, queue_name=queue, broker=broker)(ping)


def ping() -> None:
    """Signal the completion."""
    notify()


if URL_ENV in os.environ:  # imported by the dramatiq CLI: set the global broker it runs
    broker = make_broker(os.environ[URL_ENV], os.environ[PREFIX_ENV])
    dramatiq.set_broker(broker)
    declare(broker, os.environ[QUEUE_ENV])
