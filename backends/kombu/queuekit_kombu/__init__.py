"""queuekit on any kombu transport: ``kombu+memory://``, ``kombu+redis://``, ``kombu+amqp://``..."""

from queuekit_kombu.broker import KombuBroker
from queuekit_kombu.transports import capabilities_for

__all__ = ["KombuBroker", "capabilities_for"]
