"""Publishing with publisher confirms, one batch at a time or many batches in flight.

Every message goes out ``mandatory`` on a channel in confirm mode. A batch is settled
when RabbitMQ has confirmed every message in it (acks may cover many at once with
``multiple``); a ``basic.nack`` or a ``basic.return`` fails the batch with a typed
error, and a lost channel fails every unconfirmed batch with :class:`ConnectionLost`
(those messages may or may not have been stored: the confirm never arrived).

All threads of a process publish on the one confirm channel, each waiting for its own
batch only, so the confirms of concurrent callers are pipelined: RabbitMQ confirms what
arrived together after one disk sync, often with one ``multiple`` ack. Callers queue their
chunks and wake the I/O thread only when it is not already due to run, so callers that
arrive while it is busy cost no wake-up and go out together.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pika import spec  # type: ignore[import-untyped]

from queuekit.errors import ConnectionLost
from queuekit_rabbitmq.errors import PublishRejected, Unroutable
from queuekit_rabbitmq.io import IoThread, Link, describe_error

CHUNK = 256  # messages published per I/O-thread turn, so acks, confirms and heartbeats interleave

Done = Callable[[BaseException | None], None]


@dataclass(frozen=True)
class Outgoing:
    """One message to publish."""

    exchange: str
    routing_key: str
    body: bytes
    properties: Any  # pika.BasicProperties


class _Batch:
    """Counts confirms for a group of messages; calls ``done`` once with the first error."""

    __slots__ = ("_done", "error", "finished", "remaining")

    def __init__(self, count: int, done: Done) -> None:
        self.remaining = count
        self.error: BaseException | None = None
        self.finished = False
        self._done = done

    def fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error

    def settle(self) -> None:
        self.remaining -= 1
        if self.remaining <= 0:
            self.finish()

    def finish(self) -> None:
        if not self.finished:
            self.finished = True
            self._done(self.error)


class _Waiter:
    """What a publishing thread waits on: a lock the I/O thread releases once, with the batch's error.

    Lighter than a ``Future`` (no condition to share with the I/O thread, whose
    ``set_result`` then blocked, and gave up the GIL, whenever the caller held it).
    """

    __slots__ = ("_lock", "error")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self.error: BaseException | None = None

    def done(self, error: BaseException | None) -> None:
        """The batch is settled (called once, by :meth:`_Batch.finish`)."""
        self.error = error
        self._lock.release()

    def wait(self, timeout: float) -> bool:
        """True once :meth:`done` ran, False after ``timeout`` seconds."""
        return self._lock.acquire(timeout=timeout)


class Publisher:
    """Confirmed publishing over one :class:`Link` (state lives on the I/O thread)."""

    def __init__(self, io: IoThread, url: str, confirm_timeout: float, connect_timeout: float) -> None:
        self.io = io
        self.confirm_timeout = confirm_timeout
        self.connect_timeout = connect_timeout
        self.link = Link(io, url, "publisher", self._setup, self._lost)
        self._pending: dict[int, tuple[_Batch, str]] = {}
        self._by_id: dict[str, _Batch] = {}
        self._next_tag = 1
        self._low = 1
        self._queued: deque[tuple[Sequence[Outgoing], _Batch]] = deque()  # chunks for the I/O thread
        self._queued_lock = threading.Lock()
        self._draining = False  # a _drain_io is due on the I/O thread (under _queued_lock)

    # -- any thread ----------------------------------------------------------------------

    def publish(self, messages: Sequence[Outgoing]) -> None:
        """Publish and wait until RabbitMQ confirmed all of them; raise on any failure."""
        self.publish_stream(len(messages), iter(messages))

    def publish_stream(self, count: int, messages: Iterator[Outgoing]) -> None:
        """Like :meth:`publish` for ``count`` messages built while earlier chunks go out."""
        if not count:
            return
        self.link.wait_ready(self.connect_timeout)
        waiter = _Waiter()
        batch = _Batch(count, waiter.done)
        while chunk := list(itertools.islice(messages, CHUNK)):
            self._queue(chunk, batch)
        if not waiter.wait(self.confirm_timeout + count / 1000):
            raise ConnectionLost(
                f"RabbitMQ did not confirm {count} message(s) within {self.confirm_timeout:.0f} s; "
                "they may or may not have been enqueued"
            )
        if waiter.error is not None:
            raise waiter.error

    def _queue(self, chunk: Sequence[Outgoing], batch: _Batch) -> None:
        """Hand ``chunk`` to the I/O thread, waking it only if no drain is due yet."""
        with self._queued_lock:
            self._queued.append((chunk, batch))
            if self._draining:
                return
            self._draining = True
        self.io.submit(self._drain_io)

    # -- I/O thread ----------------------------------------------------------------------

    def _drain_io(self) -> None:
        """Publish queued chunks in the order they were queued, about ``CHUNK`` messages per turn."""
        sent = 0
        while sent < CHUNK:
            with self._queued_lock:
                if not self._queued:
                    self._draining = False
                    break
                chunk, batch = self._queued.popleft()
            self._publish_io(chunk, batch)
            sent += len(chunk)
        else:
            self.io.later(0, self._drain_io)  # more queued: after the loop's next turn of I/O
        self.link.flush()

    def publish_io(self, messages: Sequence[Outgoing], done: Done) -> None:
        """Publish from the I/O thread; ``done(error)`` runs there once all are settled."""
        batch = _Batch(len(messages), done)
        if not messages:
            batch.finish()
            return
        self._publish_io(messages, batch)
        self.link.flush()

    def _publish_io(self, messages: Sequence[Outgoing], batch: _Batch) -> None:
        if batch.finished:
            return
        channel = self.link.channel
        if channel is None or not channel.is_open:
            batch.fail(ConnectionLost(f"RabbitMQ connection is down: {self.link.last_error}; nothing was sent"))
            batch.finish()
            return
        for message in messages:
            if batch.error is not None:  # a failed batch sends no more
                batch.finish()
                return
            tag = self._next_tag
            message_id = message.properties.message_id or ""
            try:
                channel.basic_publish(message.exchange, message.routing_key, message.body, message.properties, True)
            except Exception as exc:  # e.g. a header pika cannot encode: fail the caller, not the loop
                batch.fail(PublishRejected(f"cannot publish message {message_id}: {describe_error(exc)}"))
                batch.finish()
                return
            self._next_tag += 1
            self._pending[tag] = (batch, message_id)
            self._by_id[message_id] = batch

    def _setup(self, channel: Any, _generation: int, ready: Callable[[], None]) -> None:
        self._next_tag = self._low = 1
        channel.add_on_return_callback(self._returned)
        channel.confirm_delivery(self._confirmed, callback=lambda _frame: ready())

    def _lost(self, _generation: int, error: BaseException | None) -> None:
        batches = {id(batch): batch for batch, _ in self._pending.values()}
        self._pending.clear()
        self._by_id.clear()
        for batch in batches.values():
            batch.fail(ConnectionLost(
                f"RabbitMQ connection lost before it confirmed the batch ({describe_error(error)}); "
                "its messages may or may not have been enqueued"
            ))
            batch.finish()

    def _confirmed(self, frame: Any) -> None:
        method = frame.method
        tag = method.delivery_tag
        tags = range(self._low, tag + 1) if method.multiple else (tag,)
        nacked = isinstance(method, spec.Basic.Nack)
        for each in tags:
            entry = self._pending.pop(each, None)
            if entry is None:
                continue
            batch, message_id = entry
            if self._by_id.get(message_id) is batch:
                del self._by_id[message_id]
            if nacked:
                batch.fail(PublishRejected(f"RabbitMQ refused message {message_id} (basic.nack); not enqueued"))
            batch.settle()
        while self._low < self._next_tag and self._low not in self._pending:
            self._low += 1

    def _returned(self, _channel: Any, method: Any, properties: Any, _body: bytes) -> None:
        batch = self._by_id.get(properties.message_id or "")
        if batch is not None:
            batch.fail(Unroutable(
                f"message {properties.message_id} was returned by RabbitMQ ({method.reply_text}): no queue is "
                f"bound for exchange {method.exchange!r} and routing key {method.routing_key!r}"
            ))
