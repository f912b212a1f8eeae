"""``kombu+<transport>://``: queuekit's Broker protocol on any kombu transport.

kombu channels are not thread-safe, so one lock serialises every kombu call. Reserving
polls ``basic_get`` (every transport has it); a message is acked on the channel that
got it. The attempt count rides in a header and is rewritten by republishing: a retry
or a release publishes a copy and acks the original, as does a dead letter (to the
queue ``<queue>@dead``). See docs/backends/kombu.md.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import kombu as _kombu_module

from queuekit.broker import Capabilities, DeadLetter, Delivery, Envelope, QueueStats
from queuekit.errors import CapabilityError, ConnectionLost
from queuekit.retry import Backoff
from queuekit.urls import CREATE, check_options, redact
from queuekit_kombu.transports import bounds_hint, capabilities_for, parse, transport_option_names

T = TypeVar("T")

kombu: Any = _kombu_module  # kombu ships py.typed but leaves most of its API unannotated

ID, ATTEMPTS, PRIORITY, REASON, DEAD_AT = "x-qk-id", "x-qk-attempts", "x-qk-priority", "x-qk-reason", "x-qk-dead-at"
MAX_REASON = 4000
RESTORE_EVERY = 10.0  # seconds between sweeps of kombu's Redis visibility-timeout restore


def dead_queue(queue: str) -> str:
    """The dead-letter queue of ``queue``."""
    return f"{queue}@dead"


def _int(headers: dict[str, Any], name: str) -> int:
    value = headers.get(name, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass
class _Held:
    generation: int
    message: Any  # kombu.Message
    queue: str
    spent: int
    timer: threading.Timer | None = None


def _no_retry_when_silent(exc: BaseException, interval: float) -> None:
    """kombu's retry hook: a server that let a whole wait run out is not tried again at once."""
    if "timeout" in f"{type(exc).__name__} {exc}".lower():
        raise exc


class KombuBroker:
    """A queuekit broker over a kombu connection; thread-safe by one lock."""

    schemes: ClassVar[tuple[str, ...]] = ("kombu",)
    capabilities: Capabilities = capabilities_for("memory")

    def __init__(self, url: str, **options: Any) -> None:
        self.target = parse(url)
        known = transport_option_names(self.target.transport)
        if known is not None:
            check_options(options, known | {CREATE}, where="the kombu broker's keyword options")
        options = {key: value for key, value in options.items() if key != CREATE}  # passive reads create nothing
        self.capabilities = capabilities_for(self.target.transport)
        self._url = redact(url)
        self._transport_options = {**self.target.options, **options}
        self._lock = threading.RLock()
        self._connection: Any = None
        self._channel: Any = None
        self._generation = 0
        self._declared: set[str] = set()
        self._held: dict[str, _Held] = {}
        self._delayed: dict[str, _Held] = {}
        self._last_restore = 0.0
        self._closed = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> KombuBroker:
        """Open ``kombu+<transport>://...``; query parameters become kombu transport options."""
        return cls(url, **options)

    def __repr__(self) -> str:
        return f"<KombuBroker {self._url}>"

    # -- connection ------------------------------------------------------------------------

    def _call(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(channel)`` under the lock; a connection failure resets and raises ConnectionLost."""
        with self._lock:
            if self._channel is None:
                self._connect()
            try:
                return fn(self._channel)
            except tuple(self._connection.connection_errors) as exc:
                self._reset()
                hint = bounds_hint(self.target.transport, exc)
                raise ConnectionLost(
                    f"kombu connection to {self._url} failed: {type(exc).__name__}: {exc}{hint}"
                ) from None

    def _connect(self) -> None:
        connection = kombu.Connection(self.target.kombu_url, transport_options=self._transport_options)
        try:
            connection.ensure_connection(max_retries=3, errback=_no_retry_when_silent)
        except Exception as exc:
            hint = bounds_hint(self.target.transport, exc)
            raise ConnectionLost(f"cannot connect to {self._url}: {type(exc).__name__}: {exc}{hint}") from None
        self._connection = connection
        self._channel = connection.channel()
        self._generation += 1

    def _reset(self) -> None:
        for thing in (self._channel, self._connection):
            try:
                if thing is not None:
                    thing.close()
            except Exception:  # the connection is already broken; closing is best effort
                pass
        self._channel = self._connection = None
        self._declared.clear()

    def _queue(self, channel: Any, name: str) -> Any:
        queue = kombu.Queue(name, exchange=kombu.Exchange("", type="direct"), routing_key=name, durable=True)
        bound = queue(channel)
        if name not in self._declared:
            bound.declare()
            self._declared.add(name)
        return bound

    def _publish(self, channel: Any, queue: str, body: bytes, headers: dict[str, Any]) -> None:
        self._queue(channel, queue)
        producer = kombu.Producer(channel, exchange=kombu.Exchange(""), routing_key=queue)
        producer.publish(body, routing_key=queue, headers=headers, delivery_mode=2,
                         content_type="application/octet-stream", content_encoding="binary")

    # -- producing -------------------------------------------------------------------------

    def enqueue(self, envelopes: Sequence[Envelope]) -> list[str]:
        """Publish every envelope (with publisher confirms on AMQP transports)."""
        if any(env.delay > 0 for env in envelopes):
            raise CapabilityError(
                f"{self._url}: kombu transports have no delayed delivery; enqueue without delay or eta, "
                "or use a backend that declares delays (amqp://, redis://, sql)"
            )

        def publish(channel: Any) -> list[str]:
            for env in envelopes:
                headers = {ID: env.id, ATTEMPTS: 0, PRIORITY: env.priority}
                self._publish(channel, env.queue, env.body, headers)
            return [env.id for env in envelopes]

        return self._call(publish)

    # -- consuming -------------------------------------------------------------------------

    def reserve(self, queues: Sequence[str], limit: int, lease: float, wait: float = 0.0) -> list[Delivery]:
        """Poll ``basic_get`` on each queue in turn until something comes or ``wait`` runs out."""
        deadline = time.monotonic() + wait
        polls = Backoff(0.005, 0.05, jitter=False)
        while True:
            got = self._call(lambda channel: self._take(channel, queues, limit))
            remaining = deadline - time.monotonic()
            if got or remaining <= 0 or limit < 1:
                return got
            time.sleep(min(polls.next(), remaining))

    def _take(self, channel: Any, queues: Sequence[str], limit: int) -> list[Delivery]:
        self._maybe_restore(channel)
        taken: list[Delivery] = []
        for name in queues:
            queue = self._queue(channel, name)
            while len(taken) < limit:
                message = queue.get(no_ack=False)
                if message is None:
                    break
                headers = dict(message.headers or {})
                spent = _int(headers, ATTEMPTS)
                if message.delivery_info.get("redelivered"):  # its holder died: count that attempt
                    self._publish(channel, name, message.body, {**headers, ATTEMPTS: spent + 1})
                    message.ack()
                    continue
                receipt = f"{self._generation}.{uuid.uuid4().hex}"
                self._held[receipt] = _Held(self._generation, message, name, spent)
                job_id = headers.get(ID) or f"kombu-{receipt}"
                taken.append(Delivery(str(job_id), name, message.body, spent + 1, receipt, _int(headers, PRIORITY)))
        return taken

    def _maybe_restore(self, channel: Any) -> None:
        """Redis: give back messages whose holder vanished, past kombu's visibility timeout."""
        restore = getattr(getattr(channel, "qos", None), "restore_visible", None)
        if restore is not None and time.monotonic() - self._last_restore > RESTORE_EVERY:
            self._last_restore = time.monotonic()
            restore()

    def _claim(self, receipt: str) -> _Held | None:
        held = self._held.pop(receipt, None)
        return held if held is not None and held.generation == self._generation else None

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge held deliveries; stale receipts are ignored."""

        def ack(_channel: Any) -> None:
            for delivery in deliveries:
                held = self._claim(delivery.receipt)
                if held is not None:
                    held.message.ack()

        self._call(ack)

    def _resend(self, held: _Held, headers: dict[str, Any], queue: str | None = None) -> None:
        def resend(channel: Any) -> None:
            if held.generation != self._generation:
                return  # the channel that held it is gone and gave the message back
            base = dict(held.message.headers or {})
            self._publish(channel, queue or held.queue, held.message.body, {**base, **headers})
            held.message.ack()

        self._call(resend)

    def nack(self, returns: Sequence[tuple[Delivery, float]], *, count_attempt: bool = True) -> None:
        """Republish with the attempt counted (or not) and ack; a delay is held by this process."""
        with self._lock:
            for delivery, delay in returns:
                held = self._claim(delivery.receipt)
                if held is None:
                    continue
                headers = {ATTEMPTS: held.spent + (1 if count_attempt else 0)}
                if delay <= 0:
                    self._resend(held, headers)
                    continue
                held.timer = threading.Timer(delay, self._release_delayed, (delivery.receipt, headers))
                held.timer.daemon = True
                self._delayed[delivery.receipt] = held
                held.timer.start()

    def _release_delayed(self, receipt: str, headers: dict[str, Any]) -> None:
        with self._lock:
            held = self._delayed.pop(receipt, None)
        if held is not None:
            self._resend(held, headers)

    def dead_letter(self, letters: Sequence[tuple[Delivery, str]]) -> None:
        """Publish each to ``<queue>@dead`` with its reason and attempts, then ack."""
        with self._lock:
            for delivery, reason in letters:
                held = self._claim(delivery.receipt)
                if held is None:
                    continue
                headers = {ATTEMPTS: held.spent + 1, REASON: reason[:MAX_REASON], DEAD_AT: int(time.time() * 1000)}
                self._resend(held, headers, dead_queue(held.queue))

    def extend(self, deliveries: Sequence[Delivery], lease: float) -> set[str]:
        """Nothing to renew; report the deliveries no longer held."""
        with self._lock:
            return {
                d.id for d in deliveries
                if (held := self._held.get(d.receipt)) is None or held.generation != self._generation
            }

    # -- administration --------------------------------------------------------------------

    def _depth(self, channel: Any, name: str) -> int:
        try:
            return int(channel.queue_declare(queue=name, passive=True).message_count)
        except tuple(self._connection.channel_errors):
            return 0

    def stats(self, queues: Sequence[str] | None = None) -> dict[str, QueueStats]:
        """Ready and dead from the transport; delayed and in-flight as held by this process."""
        names = list(queues) if queues is not None else sorted(q for q in self._declared if "@" not in q)

        def count(_channel: Any) -> dict[str, QueueStats]:
            result = {}
            with self._admin() as admin:
                for name in names:
                    delayed = sum(1 for h in self._delayed.values() if h.queue == name)
                    held = sum(1 for h in self._held.values() if h.queue == name and h.generation == self._generation)
                    result[name] = QueueStats(self._depth(admin, name), delayed, held,
                                              self._depth(admin, dead_queue(name)))
            return result

        return self._call(count)

    def _admin(self) -> Any:
        """A separate channel for probes: on AMQP a missing queue closes the channel it was asked on."""
        return self._connection.channel()

    def purge(self, queue: str) -> int:
        """Delete ready messages, and the delayed ones this process holds."""

        def purge(channel: Any) -> int:
            doomed = [r for r, h in self._delayed.items() if h.queue == queue]
            for receipt in doomed:
                held = self._delayed.pop(receipt)
                if held.timer is not None:
                    held.timer.cancel()
                if held.generation == self._generation:
                    held.message.ack()
            with self._admin() as admin:
                ready = self._depth(admin, queue) and int(admin.queue_purge(queue) or 0)
            return ready + len(doomed)

        return self._call(purge)

    def _cycle_dead(self, queue: str, keep: Callable[[Any], bool], requeue: Callable[[Any], bool]) -> list[Any]:
        """Take every dead letter; put back those ``keep`` says, in order; return the taken messages."""

        def cycle(channel: Any) -> list[Any]:
            taken: list[Any] = []
            with self._admin() as admin:
                if not self._depth(admin, dead_queue(queue)):
                    return taken
            dlq = self._queue(channel, dead_queue(queue))
            while (message := dlq.get(no_ack=False)) is not None:
                taken.append(message)
            for message in taken:
                headers = dict(message.headers or {})
                if requeue(message):
                    fresh = {k: v for k, v in headers.items() if k not in (REASON, DEAD_AT)}
                    self._publish(channel, queue, message.body, {**fresh, ATTEMPTS: 0})
                elif keep(message):
                    self._publish(channel, dead_queue(queue), message.body, headers)
                message.ack()
            return taken

        return self._call(cycle)

    def dead_letters(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        """The oldest ``limit`` dead letters (the whole dead-letter queue is cycled to read them)."""
        taken = self._cycle_dead(queue, keep=lambda _m: True, requeue=lambda _m: False)
        letters = []
        for message in taken[:limit]:
            headers = dict(message.headers or {})
            letters.append(DeadLetter(
                str(headers.get(ID, "")), queue, message.body, str(headers.get(REASON) or "unknown"),
                _int(headers, ATTEMPTS), _int(headers, DEAD_AT) / 1000,
            ))
        return letters

    def requeue_dead(self, queue: str, ids: Sequence[str] | None = None) -> int:
        """Move dead letters (all, or those ids) back to ``queue`` with attempts reset."""
        wanted = None if ids is None else set(ids)

        def chosen(message: Any) -> bool:
            return wanted is None or (message.headers or {}).get(ID) in wanted

        taken = self._cycle_dead(queue, keep=lambda _m: True, requeue=chosen)
        return sum(1 for message in taken if chosen(message))

    def purge_dead(self, queue: str) -> int:
        """Delete a queue's dead letters."""

        def purge(_channel: Any) -> int:
            with self._admin() as admin:
                return self._depth(admin, dead_queue(queue)) and int(admin.queue_purge(dead_queue(queue)) or 0)

        return self._call(purge)

    def close(self) -> None:
        """Hand back nack-delayed messages at once, close the connection. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            delayed, self._delayed = list(self._delayed.values()), {}
        for held in delayed:
            if held.timer is not None:
                held.timer.cancel()
            with contextlib.suppress(ConnectionLost):  # the transport gives unacked messages back itself
                self._resend(held, {ATTEMPTS: held.spent + 1})
        with self._lock:
            self._reset()
