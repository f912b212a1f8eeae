"""Errors a RabbitMQ producer can see, beneath queuekit's :class:`BrokerError`."""

from __future__ import annotations

from queuekit.errors import BrokerError


class PublishRejected(BrokerError):
    """RabbitMQ refused a message (``basic.nack``): it was not enqueued."""


class Unroutable(PublishRejected):
    """RabbitMQ returned a mandatory message: no queue was bound for it (queue deleted?)."""
