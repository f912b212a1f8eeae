"""Single-message enqueue on the calling thread: no hop to the I/O thread and back.

Waiting for one publisher confirm is latency-bound; handing the publish to the I/O
thread and the confirm back costs two thread wake-ups, which on a busy machine is a
large share of the wait. So each producing thread gets a ``BlockingConnection`` of its
own (confirm mode, ``mandatory``), used only by that thread, for one-message enqueues.

pika services a blocking connection's heartbeats only while it is in a call. Before a
publish on a connection idle for more than half the heartbeat interval, pending events
are processed (a heartbeat goes out; a connection the server closed is noticed and
replaced), so the publish itself goes to a live connection.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pika  # type: ignore[import-untyped]
from pika import exceptions as pika_errors

from queuekit.errors import ConnectionLost
from queuekit.urls import redact
from queuekit_rabbitmq.errors import PublishRejected, Unroutable
from queuekit_rabbitmq.io import access_refused, describe_error, is_refusal


class _Local(threading.local):
    connection: Any = None
    channel: Any = None
    used: float = 0.0


class DirectPublisher:
    """Per-thread blocking connections for confirmed single publishes."""

    def __init__(self, url: str, name: str) -> None:
        self._url = url
        self._params = pika.URLParameters(url)
        self._params.client_properties = {"connection_name": name}
        self._refresh = max((self._params.heartbeat or 60) / 2, 1.0)
        self._local = _Local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    def publish(self, exchange: str, routing_key: str, body: bytes, properties: Any) -> None:
        """Publish one message and wait for its confirm; raise a typed error otherwise."""
        channel = self._channel()
        try:
            channel.basic_publish(exchange, routing_key, body, properties, mandatory=True)
        except pika_errors.UnroutableError:
            raise Unroutable(
                f"message {properties.message_id} was returned by RabbitMQ: no queue is bound for "
                f"exchange {exchange!r} and routing key {routing_key!r}"
            ) from None
        except pika_errors.NackError:
            raise PublishRejected(f"RabbitMQ refused message {properties.message_id} (basic.nack)") from None
        except pika_errors.AMQPError as exc:
            self._drop()
            raise ConnectionLost(
                f"RabbitMQ connection lost while publishing ({describe_error(exc)}); "
                "the message may or may not have been enqueued"
            ) from None
        self._local.used = time.monotonic()

    def _channel(self) -> Any:
        local = self._local
        if local.channel is not None and time.monotonic() - local.used > self._refresh:
            try:
                local.connection.process_data_events(0)
            except pika_errors.AMQPError:
                self._drop()
        if local.channel is None or not local.channel.is_open:
            self._drop()
            self._open()
        return local.channel

    def _open(self) -> None:
        if self._closed:
            raise ConnectionLost("the RabbitMQ broker is closed")
        try:
            connection = pika.BlockingConnection(self._params)
            channel = connection.channel()
            channel.confirm_delivery()
        except (pika_errors.AMQPError, OSError) as exc:
            if is_refusal(exc):
                raise access_refused(self._url, exc) from None
            raise ConnectionLost(f"cannot connect to RabbitMQ at {redact(self._url)}: {describe_error(exc)}") from None
        self._local.connection, self._local.channel = connection, channel
        self._local.used = time.monotonic()
        with self._lock:
            self._all.append(connection)

    def _drop(self) -> None:
        connection = self._local.connection
        self._local.connection = self._local.channel = None
        if connection is None:
            return
        with self._lock:
            if connection in self._all:
                self._all.remove(connection)
        try:
            if connection.is_open:
                connection.close()
        except (pika_errors.AMQPError, OSError):
            pass

    def close(self) -> None:
        """Close every thread's connection; call it when no thread is publishing any more."""
        with self._lock:
            self._closed = True
            connections, self._all = self._all, []
        for connection in connections:
            try:
                if connection.is_open:
                    connection.close()
            except (pika_errors.AMQPError, OSError, RuntimeError):
                pass
