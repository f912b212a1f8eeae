"""Short synchronous conversations on a throwaway channel (declares, stats, admin).

An AMQP channel error (a passive declare of a missing queue, arguments that do not
match) closes the channel it happened on. These calls therefore use a channel of their
own, opened for the call and closed after it, so the publishing and consuming channels
are never hurt. Each step runs on the I/O thread; the caller waits for its answer.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from pika import spec  # type: ignore[import-untyped]
from pika.exceptions import ChannelClosedByBroker  # type: ignore[import-untyped]

from queuekit.errors import BrokerError, ConnectionLost
from queuekit_rabbitmq.io import Link, Reject, Resolve, describe_error

Step = Callable[[Any, Resolve], None]  # (channel, resolve) -> None


class _QuietProbes(logging.Filter):
    """Drops pika's warning for a 404 on a missing queue: queuekit's passive probes expect it.

    Where a missing queue is a real problem queuekit reports it itself (an error raised to
    the caller, or its own warning when a consumer channel closes).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "NOT_FOUND - no queue" not in record.getMessage()


logging.getLogger("pika.channel").addFilter(_QuietProbes())


class ChannelError(BrokerError):
    """RabbitMQ closed a channel because of a request on it (code and text from the server)."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"RabbitMQ refused the request: {code} {text}")
        self.code = code
        self.text = text


class TempChannel:
    """A channel on ``link``'s connection for one conversation; use as a context manager."""

    def __init__(self, link: Link, timeout: float) -> None:
        self.link = link
        self.timeout = timeout
        self.channel: Any = None
        self._reject: Reject | None = None
        self.error: BaseException | None = None

    def __enter__(self) -> TempChannel:
        self.link.wait_ready(self.timeout)

        def open_channel(resolve: Resolve, reject: Reject) -> None:
            connection = self.link.connection
            if connection is None or not connection.is_open:
                reject(ConnectionLost(f"RabbitMQ connection is down: {self.link.last_error}"))
                return
            connection.channel(on_open_callback=lambda channel: self._opened(channel, resolve))

        self.channel = self.link.io.call(open_channel, self.timeout)
        return self

    def _opened(self, channel: Any, resolve: Resolve) -> None:
        channel.add_on_close_callback(self._closed)
        resolve(channel)

    def _closed(self, _channel: Any, error: BaseException) -> None:
        if isinstance(error, ChannelClosedByBroker):
            self.error = ChannelError(error.reply_code, error.reply_text)
        else:
            self.error = ConnectionLost(f"RabbitMQ channel closed: {describe_error(error)}")
        if self._reject is not None:
            self._reject(self.error)

    def __exit__(self, *_exc: object) -> None:
        channel = self.channel

        def close(resolve: Resolve, _reject: Reject) -> None:
            if channel.is_open:
                channel.close()
            resolve(None)

        if channel is not None and self.error is None:
            with contextlib.suppress(BrokerError):
                self.link.io.call(close, self.timeout)

    def run(self, step: Step) -> Any:
        """Run one step on the I/O thread and return what it resolves; raise if the channel closed."""
        if self.error is not None:
            raise self.error

        def call(resolve: Resolve, reject: Reject) -> None:
            if self.error is not None:
                reject(self.error)
                return
            self._reject = reject
            step(self.channel, resolve)

        return self.link.io.call(call, self.timeout)

    # -- common steps --------------------------------------------------------------------

    def declare_queue(self, name: str, arguments: dict[str, Any] | None = None, passive: bool = False) -> int:
        """Declare (or check) a durable queue; return its ready message count."""
        frame = self.run(lambda ch, done: ch.queue_declare(
            name, passive=passive, durable=True, arguments=arguments, callback=done))
        return int(frame.method.message_count)

    def declare_exchange(self, name: str, kind: str) -> None:
        """Declare a durable exchange."""
        self.run(lambda ch, done: ch.exchange_declare(name, kind, durable=True, callback=done))

    def bind_queue(self, queue: str, exchange: str, key: str) -> None:
        """Bind a queue to an exchange."""
        self.run(lambda ch, done: ch.queue_bind(queue, exchange, key, callback=done))

    def bind_exchange(self, destination: str, source: str, key: str) -> None:
        """Bind an exchange to an exchange."""
        self.run(lambda ch, done: ch.exchange_bind(destination, source, key, callback=done))

    def delete_queue(self, name: str) -> None:
        """Delete a queue with its messages (a missing one is no error on RabbitMQ 3.x and later)."""
        self.run(lambda ch, done: ch.queue_delete(name, callback=done))

    def delete_exchange(self, name: str) -> None:
        """Delete an exchange and its bindings."""
        self.run(lambda ch, done: ch.exchange_delete(name, callback=done))

    def purge(self, name: str) -> int:
        """Purge a queue's ready messages; return how many."""
        frame = self.run(lambda ch, done: ch.queue_purge(name, callback=done))
        return int(frame.method.message_count)

    def get(self) -> Callable[[str], tuple[Any, Any, bytes] | None]:
        """A function that takes one message (unacked) from a queue, or None when empty."""

        def take(queue: str) -> tuple[Any, Any, bytes] | None:
            def step(ch: Any, done: Resolve) -> None:
                ch.add_callback(lambda _frame: done(None), [spec.Basic.GetEmpty], one_shot=True)
                ch.basic_get(queue, lambda _c, method, props, body: done((method, props, body)))

            found: tuple[Any, Any, bytes] | None = self.run(step)
            return found

        return take

    def ack(self, tags: list[int]) -> None:
        """Acknowledge deliveries taken with :meth:`get` on this channel."""

        def step(ch: Any, done: Resolve) -> None:
            for tag in tags:
                ch.basic_ack(tag)
            done(None)

        self.run(step)
