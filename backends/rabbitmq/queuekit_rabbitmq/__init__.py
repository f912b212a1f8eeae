"""RabbitMQ backend for queuekit (``amqp://`` and ``amqps://``), built on pika."""

from queuekit_rabbitmq.broker import RabbitBroker
from queuekit_rabbitmq.errors import AccessRefused, PublishRejected, Unroutable

__all__ = ["AccessRefused", "PublishRejected", "RabbitBroker", "Unroutable"]
