"""RabbitMQ backend for queuekit (``amqp://`` and ``amqps://``), built on pika."""

from queuekit_rabbitmq.broker import RabbitBroker
from queuekit_rabbitmq.errors import PublishRejected, Unroutable

__all__ = ["PublishRejected", "RabbitBroker", "Unroutable"]
