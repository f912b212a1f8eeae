"""The I/O thread and the self-healing connections that live on it.

pika connections are not thread-safe, so every pika object is touched on exactly one
thread: the :class:`IoThread`, which runs pika's ``IOLoop``. Other threads hand it
work with :meth:`IoThread.submit` (``add_callback_threadsafe`` underneath) or
:meth:`IoThread.call`, which waits for the result. Because the loop never runs user
code, it answers AMQP heartbeats however long tasks run.

A :class:`Link` is one ``SelectConnection`` with one main channel. When the connection
or the channel is lost it tells its owner (so stale delivery tags are never used on a
new channel) and reconnects with capped exponential backoff and jitter. Its channels
hand a consumer being cancelled what RabbitMQ sent it before the ``cancel-ok``, where
pika would requeue it (:class:`_KeepingChannel`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import pika  # type: ignore[import-untyped]
import pika.channel  # type: ignore[import-untyped]
import pika.frame  # type: ignore[import-untyped]
from pika import exceptions as pika_errors
from pika import spec
from pika.adapters.select_connection import IOLoop  # type: ignore[import-untyped]
from pika.adapters.utils.connection_workflow import (  # type: ignore[import-untyped]
    AMQPConnectionWorkflowFailed,
    AMQPConnectorPhaseErrorBase,
)

from queuekit.errors import ConnectionLost
from queuekit.retry import Backoff
from queuekit.urls import redact
from queuekit_rabbitmq.errors import AccessRefused
from queuekit_rabbitmq.frames import take_deliveries

log = logging.getLogger("queuekit.rabbitmq")


class _ReportedByQueuekit(logging.Filter):
    """Drops what pika logs about establishing or losing a connection, below CRITICAL.

    pika writes six to fifteen lines for one refused connection; the :class:`Link` reports
    the same event once, with its cause (an error raised to the caller, or its own
    warning when an open connection is lost and retried).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.CRITICAL


for _name in ("pika.connection", "pika.adapters.utils.io_services_utils", "pika.adapters.utils.connection_workflow",
              "pika.adapters.utils.selector_ioloop_adapter", "pika.adapters.base_connection",
              "pika.adapters.blocking_connection"):
    logging.getLogger(_name).addFilter(_ReportedByQueuekit())

class _KeepingChannel(pika.channel.Channel):  # type: ignore[misc]
    """A pika channel that gives a consumer being cancelled what RabbitMQ sent it before ``cancel-ok``.

    AMQP lets a server send deliveries between a client's ``basic.cancel`` and its
    ``cancel-ok``; their tags belong to the channel, so they can be buffered, handed out
    and acked like any other. pika instead rejects them with ``requeue=True``, and
    RabbitMQ then delivers them flagged ``redelivered``, which queuekit must read as a
    crash and count as an attempt. So the consumer's callback, which pika keeps until the
    ``cancel-ok``, gets them. ``tests/rabbitmq/test_rabbitmq.py`` checks this through
    ``stop_consuming`` (it fails if a pika release renames what is overridden here).

    It also lets several ``basic.get`` be in flight at once (:meth:`get_in_order`), which
    pika's ``basic_get`` refuses.
    """

    def __init__(self, connection: Any, channel_number: int, on_open_callback: Any) -> None:
        super().__init__(connection, channel_number, on_open_callback)
        self._ordered_gets: deque[Callable[[Any, Any, bytes], None]] = deque()  # see get_in_order

    def _on_deliver(self, method_frame: Any, header_frame: Any, body: bytes) -> None:
        self.deliver(method_frame.method, header_frame.properties, body)

    def deliver(self, method: Any, properties: Any, body: bytes) -> None:
        """Hand a ``basic.deliver`` to its consumer's callback (kept until the ``cancel-ok``).

        A delivery for a consumer pika does not know goes to pika's own handling.
        """
        callback = self._consumers.get(method.consumer_tag)
        if callback is not None:
            callback(self, method, properties, body)
            return
        number = self.channel_number
        super()._on_deliver(pika.frame.Method(number, method), pika.frame.Header(number, len(body), properties), body)

    def get_in_order(self, queue: str, answered: Callable[[Any, Any, bytes], None]) -> None:
        """Send a ``basic.get`` now, even while others are unanswered.

        RabbitMQ answers a channel's gets in the order they were sent, so several can be
        in flight and each answer goes to the oldest waiting ``answered``: ``(method,
        properties, body)`` for a ``get-ok``, ``(None, None, b"")`` for a ``get-empty``.
        pika's ``basic_get`` allows one at a time; it still works while none of these wait.
        """
        self._ordered_gets.append(answered)
        self._send_method(spec.Basic.Get(queue=queue, no_ack=False))

    def _on_getok(self, method_frame: Any, header_frame: Any, body: bytes) -> None:
        if self._ordered_gets:
            self._ordered_gets.popleft()(method_frame.method, header_frame.properties, body)
            return
        super()._on_getok(method_frame, header_frame, body)

    def _on_getempty(self, method_frame: Any) -> None:
        if self._ordered_gets:
            self._ordered_gets.popleft()(None, None, b"")
            return
        super()._on_getempty(method_frame)


class _Connection(pika.SelectConnection):  # type: ignore[misc]
    """A ``SelectConnection`` with :class:`_KeepingChannel` channels, and deliveries that skip pika's frame objects.

    Runs of whole deliveries at the front of the receive buffer go straight to their
    channel (:func:`queuekit_rabbitmq.frames.take_deliveries`); every other frame takes
    pika's path, as in pika's own ``_on_data_available``.
    """

    def _create_channel(self, channel_number: int, on_open_callback: Any) -> Any:
        return _KeepingChannel(self, channel_number, on_open_callback)

    def _on_data_available(self, data_in: bytes) -> None:
        self._frame_buffer += data_in
        receivers = {number: channel.deliver for number, channel in self._channels.items()}  # all _KeepingChannel
        while self._frame_buffer:
            taken, frames = take_deliveries(self._frame_buffer, receivers)
            if taken:
                self.frames_received += frames
                self._trim_frame_buffer(taken)
                continue
            consumed, frame_value = self._read_frame()
            if not frame_value:
                return
            self._trim_frame_buffer(consumed)
            self._process_frame(frame_value)


T = TypeVar("T")
Resolve = Callable[[Any], None]
Reject = Callable[[BaseException], None]


_REFUSAL_CODES = (403, 530)  # ACCESS_REFUSED; NOT_ALLOWED (no such vhost, or no access to it)


def root_cause(error: BaseException) -> BaseException:
    """The error inside pika's connection-workflow wrappers (e.g. ``ConnectionRefusedError``)."""
    for _ in range(8):
        if isinstance(error, AMQPConnectionWorkflowFailed) and error.exceptions:
            error = error.exceptions[-1]
        elif isinstance(error, AMQPConnectorPhaseErrorBase) and error.exception is not None:
            error = error.exception
        elif (type(error) is pika_errors.AMQPConnectionError and len(error.args) == 1
              and isinstance(error.args[0], BaseException)):
            error = error.args[0]
        else:
            break
    return error


def describe_error(error: BaseException | None) -> str:
    """A short reason for logs and errors (pika errors never carry credentials)."""
    if error is None:
        return "closed"
    error = root_cause(error)
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:300]


def is_refusal(error: BaseException) -> bool:
    """True when RabbitMQ refused the login or the virtual host: retrying cannot help."""
    error = root_cause(error)
    if isinstance(error, pika_errors.AuthenticationError):
        return True
    if isinstance(error, (pika_errors.ProbableAuthenticationError, pika_errors.ProbableAccessDeniedError)):
        # pika's guess for a connection that ended during the handshake: a refusal when the
        # server closed it, a network reset (retry) when the stream was lost.
        return "StreamLostError" not in str(error)
    return isinstance(error, pika_errors.ConnectionClosedByBroker) and error.reply_code in _REFUSAL_CODES


def access_refused(url: str, error: BaseException) -> AccessRefused:
    """The error for a refused login, naming the redacted URL and RabbitMQ's reason."""
    return AccessRefused(
        f"RabbitMQ at {redact(url)} refused the connection ({describe_error(error)}); "
        "check the user, password and virtual host in the URL"
    )


class Outage:
    """Reports the loss of a broker's connections once: one WARNING when the first goes, one INFO when all are back.

    A reset or a restart takes every connection of the process at once (publisher and
    consumer); one line says so, with the first cause. I/O thread only.
    """

    def __init__(self) -> None:
        self._down: set[str] = set()
        self._since = 0.0

    def down(self, name: str, reason: str, where: str = "") -> None:
        """The connection ``name`` (to ``where``, a redacted URL) was lost for ``reason``."""
        if not self._down:
            self._since = time.monotonic()
            log.warning("RabbitMQ connection%s lost (%s); reconnecting (unacknowledged jobs return to their queues)",
                        f" to {where}" if where else "", reason)
        else:
            log.debug("RabbitMQ %s connection lost too (%s)", name, reason)
        self._down.add(name)

    def up(self, name: str) -> None:
        """The connection ``name`` is usable again."""
        if name not in self._down:
            return
        self._down.discard(name)
        if not self._down:
            log.info("RabbitMQ reconnected after %.1fs", time.monotonic() - self._since)


class IoThread:
    """One daemon thread running pika's IOLoop; the only thread that touches pika."""

    def __init__(self, name: str) -> None:
        self.ioloop = IOLoop()
        self.outage = Outage()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.ioloop.start()
        finally:
            self._stopped.set()

    def in_thread(self) -> bool:
        """True when called on the I/O thread itself."""
        return threading.current_thread() is self._thread

    def submit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the I/O thread soon; exceptions are logged, never lost silently."""

        def guarded() -> None:
            try:
                fn()
            except Exception:
                log.exception("error on the RabbitMQ I/O thread")

        if self.in_thread():
            guarded()
        else:
            self.ioloop.add_callback_threadsafe(guarded)

    def later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the I/O thread after ``delay`` seconds (call on the I/O thread)."""
        self.ioloop.call_later(delay, fn)

    def call(self, fn: Callable[[Resolve, Reject], None], timeout: float) -> Any:
        """Run ``fn(resolve, reject)`` on the I/O thread and wait for what it resolves."""
        if self.in_thread():
            raise RuntimeError("IoThread.call would deadlock on the I/O thread")
        future: Future[Any] = Future()

        def resolve(value: Any) -> None:
            if not future.done():
                future.set_result(value)

        def reject(error: BaseException) -> None:
            if not future.done():
                future.set_exception(error)

        def run() -> None:
            try:
                fn(resolve, reject)
            except Exception as exc:
                reject(exc)

        self.submit(run)
        try:
            return future.result(timeout)
        except FutureTimeout:
            raise ConnectionLost(f"RabbitMQ did not answer within {timeout:.0f} s") from None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and wait for the thread to end."""
        if not self._stopped.is_set():
            self.ioloop.add_callback_threadsafe(self.ioloop.stop)
            self._stopped.wait(timeout)


class Link:
    """One reconnecting ``SelectConnection`` with one main channel.

    ``on_channel(channel, generation, ready)`` prepares a fresh channel and calls
    ``ready()``; ``on_lost(generation, error)`` is told when that channel is gone.
    Both run on the I/O thread. ``generation`` counts channels opened so far.
    """

    def __init__(
        self,
        io: IoThread,
        url: str,
        name: str,
        on_channel: Callable[[Any, int, Callable[[], None]], None],
        on_lost: Callable[[int, BaseException | None], None],
    ) -> None:
        self.io = io
        self.name = name
        self._url = url
        self._params = pika.URLParameters(url)
        self._params.client_properties = {"connection_name": f"queuekit pid={os.getpid()} {name}"}
        self._on_channel = on_channel
        self._on_lost = on_lost
        self.connection: Any = None
        self.channel: Any = None
        self.generation = 0
        self.ready = threading.Event()
        self.closed = threading.Event()
        self.last_error = "not connected yet"
        self.refused: str | None = None  # why RabbitMQ refused the last login, if it did
        self.unreachable: str | None = None  # why a link that never connected gave up, if it did
        self._closing = False
        self._backoff = Backoff(0.25, 5.0)  # reconnect pauses; reset once a channel is ready
        self._started = False
        self._lock = threading.Condition()  # guards _started and refused; told when ready or refused

    def __repr__(self) -> str:
        return f"<Link {self.name} {redact(self._url)} generation={self.generation}>"

    def start(self) -> None:
        """Connect in the background (idempotent; after a refused login, try once more)."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self.refused = self.unreachable = None
        self.io.submit(self._connect)

    def wait_ready(self, timeout: float) -> None:
        """Block until the channel is usable.

        Raises :class:`AccessRefused` as soon as RabbitMQ refuses the login or the virtual
        host, :class:`ConnectionLost` as soon as a link that never connected failed twice
        (a closed port or an unknown host: a command says so in a second, not after
        ``timeout``; a worker retries on its own), and after ``timeout`` otherwise.
        """
        if self.ready.is_set():  # the usual case: no lock for each publish of a busy process
            return
        self.start()
        with self._lock:
            self._lock.wait_for(
                lambda: self.ready.is_set() or self.refused is not None or self.unreachable is not None, timeout
            )
            refused, unreachable = self.refused, self.unreachable
        if self.ready.is_set():
            return
        if refused is not None:
            raise AccessRefused(refused)
        if unreachable is not None:
            raise ConnectionLost(unreachable)
        raise ConnectionLost(
            f"cannot reach RabbitMQ at {redact(self._url)} within {timeout:.0f} s: {self.last_error} "
            f"(the URL option connect_timeout sets this bound)"
        )

    # -- I/O thread ----------------------------------------------------------------------

    def _connect(self) -> None:
        if self._closing:
            return
        _Connection(
            self._params,
            on_open_callback=self._opened,
            on_open_error_callback=self._open_failed,
            on_close_callback=self._connection_closed,
            custom_ioloop=self.io.ioloop,
        )

    def _opened(self, connection: Any) -> None:
        self.connection = connection
        if self._closing:
            connection.close()
            return
        connection.add_on_connection_blocked_callback(
            lambda _c, _f: log.warning("RabbitMQ blocked %s (memory or disk alarm)", self.name)
        )
        connection.channel(on_open_callback=self._channel_opened)

    def _channel_opened(self, channel: Any) -> None:
        self.generation += 1
        self.channel = channel
        channel.add_on_close_callback(self._channel_closed)
        generation = self.generation

        def ready() -> None:
            if self.channel is channel and self.generation == generation:
                self.io.outage.up(self.name)
                self._backoff.reset()
                with self._lock:
                    self.ready.set()
                    self._lock.notify_all()

        self._on_channel(channel, generation, ready)

    def _lose_channel(self, error: BaseException | None) -> None:
        if self.channel is None:
            return
        self.channel = None
        self.ready.clear()
        self._on_lost(self.generation, error)

    def _channel_closed(self, channel: Any, error: BaseException) -> None:
        if channel is not self.channel:
            return
        self.last_error = describe_error(error)
        self._lose_channel(error)
        connection = self.connection
        if self._closing or connection is None or not connection.is_open:
            return  # the connection is going: reported (and reopened) as a lost connection
        log.warning("RabbitMQ %s channel closed (%s); reopening", self.name, self.last_error)
        if "consumer_timeout" in self.last_error or "delivery acknowledgement" in self.last_error:
            log.error("RabbitMQ closed the channel because a job ran past the server's consumer_timeout; "
                      "its delivery went back to the queue and may run twice")
        self.io.later(0.2, lambda: self._reopen_channel(connection))

    def _reopen_channel(self, connection: Any) -> None:
        if not self._closing and connection is self.connection and connection.is_open and self.channel is None:
            connection.channel(on_open_callback=self._channel_opened)

    def _open_failed(self, _connection: Any, error: BaseException) -> None:
        self.last_error = describe_error(error)
        if not self._closing and is_refusal(error):
            self._refuse(error)
            return
        if not self._closing and self.generation == 0 and self._backoff.failures >= 1:
            with self._lock:  # never connected, twice: stop until the next operation asks again
                self.unreachable = f"could not connect to RabbitMQ at {redact(self._url)}: {self.last_error}"
                self._started = False
                self._backoff.reset()
                self._lock.notify_all()
            return
        self._retry()

    def _refuse(self, error: BaseException) -> None:
        """Stop reconnecting: wrong credentials stay wrong. The next operation tries once more."""
        # The operation waiting for this link raises AccessRefused with the same text.
        log.debug("RabbitMQ %s: %s; not retrying until the next operation", self.name,
                  access_refused(self._url, error))
        with self._lock:
            self.refused = str(access_refused(self._url, error))
            self._started = False
            self._lock.notify_all()

    def _connection_closed(self, _connection: Any, error: BaseException) -> None:
        self.connection = None
        self._lose_channel(error)
        if self._closing:
            self.closed.set()
            return
        self.last_error = describe_error(error)
        self.io.outage.down(self.name, self.last_error, redact(self._url))
        self._retry()

    def _retry(self) -> None:
        if self._closing:
            self.closed.set()
            return
        pause = self._backoff.next()
        self.io.later(pause, self._connect)

    def flush(self) -> None:
        """Send what this connection has buffered now, joined into one ``send()`` (I/O thread).

        pika buffers each frame group it writes and sends them on the loop's next turn, one
        ``send()`` per published message; every ``send()`` gives up the GIL, which threads
        waiting to publish take, so a turn publishing several messages paid several GIL
        hand-offs and one extra turn of the loop. Without pika's transport internals
        (another pika release) this does nothing and pika sends as usual.
        """
        connection = self.connection
        transport = getattr(connection, "_transport", None) if connection is not None else None
        buffers = getattr(transport, "_tx_buffers", None)
        writable = getattr(transport, "_on_socket_writable", None)
        if not buffers or writable is None or hasattr(transport, "_ssl_writable_action"):
            return  # nothing buffered, another pika, or TLS (whose writes follow the TLS state machine)
        if len(buffers) > 1:
            joined = b"".join(buffers)
            buffers.clear()
            buffers.append(joined)
        writable()  # pika's own handler: sends, keeps what would block, aborts on errors

    # -- shutdown ------------------------------------------------------------------------

    def close(self, timeout: float = 5.0) -> None:
        """Close the connection; no reconnect follows."""

        def shut() -> None:
            self._closing = True
            connection = self.connection
            if connection is not None and not (connection.is_closing or connection.is_closed):
                connection.close()
            elif connection is None:
                self.closed.set()

        if not self._started or self.io.in_thread():
            self._closing = True
            return
        self.io.submit(shut)
        self.closed.wait(timeout)
