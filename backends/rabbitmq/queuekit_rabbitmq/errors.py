"""Errors a RabbitMQ producer can see, beneath queuekit's :class:`BrokerError`."""

from __future__ import annotations

from queuekit.errors import BrokerError, ConfigurationError


class PublishRejected(BrokerError):
    """RabbitMQ refused a message (``basic.nack``): it was not enqueued."""


class Unroutable(PublishRejected):
    """RabbitMQ returned a mandatory message: no queue was bound for it (queue deleted?)."""


class AccessRefused(BrokerError, ConfigurationError):
    """RabbitMQ refused the login (user or password) or access to the virtual host.

    Retrying cannot help until the URL or the server's users change, so it is raised at
    once rather than after ``connect_timeout``. Catch it as :class:`ConfigurationError`
    or as :class:`BrokerError`.
    """
