"""``amqp://`` and ``amqps://``: queuekit's Broker protocol on RabbitMQ, through pika.

One :class:`RabbitBroker` owns one I/O thread and two connections, opened on first use:
a publisher (confirm mode) and a consumer (``basic.consume`` with ``basic.qos``). See
``docs/backends/rabbitmq.md`` for the design and what each capability means here.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any, ClassVar

from queuekit.broker import Capabilities, DeadLetter, Delivery, Durability, Envelope, QueueStats
from queuekit.urls import redact
from queuekit_rabbitmq import admin
from queuekit_rabbitmq.consumer import Consumer
from queuekit_rabbitmq.io import IoThread
from queuekit_rabbitmq.messages import DEAD_AT, REASON, copy_properties, new_properties
from queuekit_rabbitmq.publisher import Outgoing, Publisher
from queuekit_rabbitmq.settings import Settings, parse
from queuekit_rabbitmq.topology import DEAD_EXCHANGE, Topology, delay_level, delay_route

MAX_MESSAGE_SIZE = 134_217_728  # RabbitMQ 3.x default max_message_size
MAX_REASON = 4000


def capabilities_for(settings: Settings) -> Capabilities:
    """What RabbitMQ guarantees with these settings."""
    return Capabilities(
        durability=Durability.DISK,  # durable queues, persistent messages, confirm after fsync
        fifo=True,
        priorities=settings.priorities,
        delays=True,
        at_least_once=True,  # unacked deliveries return when the holder's channel closes
        lease_expiry=False,  # redelivery follows a closed channel, never a clock
        dedup=False,  # RabbitMQ has no server-side dedup without a plugin
        results=False,
        job_state=False,
        transactional_enqueue=False,
        cross_process=True,
        max_message_size=MAX_MESSAGE_SIZE,
        delete_queue=True,
        stop_consuming=True,  # basic.consume pushes deliveries: a stopping worker pauses them
    )


class RabbitBroker:
    """A queuekit broker on RabbitMQ; thread-safe, one I/O thread per instance."""

    schemes: ClassVar[tuple[str, ...]] = ("amqp", "amqps")
    capabilities: Capabilities = capabilities_for(parse("amqp://localhost"))

    def __init__(self, url: str, **options: Any) -> None:
        self.settings = parse(url, options)
        self.capabilities = capabilities_for(self.settings)
        self._url = redact(url)
        self._io = IoThread("queuekit-rabbitmq-io")
        timeout = self.settings.connect_timeout
        self.publisher = Publisher(self._io, self.settings.pika_url, self.settings.confirm_timeout, timeout)
        self.topology = Topology(self.publisher.link, self.settings)
        self.consumer = Consumer(self._io, self.settings, self.publisher, self.topology)
        self._closed = False
        self._close_lock = threading.Lock()
        finalizer = weakref.WeakMethod(self.close)
        atexit.register(lambda: (method := finalizer()) is not None and method())

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RabbitBroker:
        """Open a broker for ``amqp://user:pass@host:port/vhost?options``."""
        return cls(url, **options)

    def __repr__(self) -> str:
        return f"<RabbitBroker {self._url} queue_type={self.settings.queue_type}>"

    # -- producing -----------------------------------------------------------------------

    def enqueue(self, envelopes: Sequence[Envelope]) -> list[str]:
        """Publish persistent messages and return once RabbitMQ confirmed every one."""
        max_priority = self.settings.max_priority if self.settings.priorities else 0
        for queue, top in self._plan(envelopes).items():
            if top < 0:
                self.topology.ensure_queue(queue)
            else:
                self.topology.ensure_delay(queue, top)
        messages = (self._route(e.queue, e.body, new_properties(e, max_priority), e.delay) for e in envelopes)
        # Chunks go out while later ones are built; concurrent callers share the confirm channel.
        self.publisher.publish_stream(len(envelopes), messages)
        return [env.id for env in envelopes]

    @staticmethod
    def _plan(envelopes: Sequence[Envelope]) -> dict[str, int]:
        """Per queue, the highest delay level needed (-1: none); raises before anything is sent."""
        plan: dict[str, int] = {}
        for env in envelopes:
            top = delay_route(env.delay)[0] if env.delay > 0 else -1
            plan[env.queue] = max(plan.get(env.queue, -1), top)
        return plan

    def _route(self, queue: str, body: bytes, properties: Any, delay: float) -> Outgoing:
        if delay > 0:
            top, key, _ms = delay_route(delay)
            self.topology.ensure_delay(queue, top)
            return Outgoing(delay_level(queue, top), key, body, properties)
        self.topology.ensure_queue(queue)
        return Outgoing("", queue, body, properties)

    # -- consuming -----------------------------------------------------------------------

    def reserve(self, queues: Sequence[str], limit: int, lease: float, wait: float = 0.0) -> list[Delivery]:
        """Hand out up to ``limit`` prefetched deliveries; ``lease`` is not a timer here."""
        if limit < 1 or not queues:
            return []
        return self.consumer.reserve(queues, limit, wait)

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge finished deliveries (sent in batches by the I/O thread)."""
        self.consumer.ack([d.receipt for d in deliveries])

    def nack(self, returns: Sequence[tuple[Delivery, float]], *, count_attempt: bool = True) -> None:
        """Republish confirmed copies (each now or down the delay ladder) in one batch, then ack the originals."""
        claim = self.consumer.claim
        claimed = [(held, delay) for delivery, delay in returns if (held := claim(delivery.receipt)) is not None]
        if not claimed:
            return
        spend = 1 if count_attempt else 0
        try:
            self.publisher.publish([
                self._route(held.queue, held.body, copy_properties(held.properties, held.spent + spend), delay)
                for held, delay in claimed
            ])
        except BaseException:
            for held, _ in claimed:
                self.consumer.unclaim(held)
            raise
        for held, _ in claimed:
            self.consumer.settle(held)

    def dead_letter(self, letters: Sequence[tuple[Delivery, str]]) -> None:
        """Publish confirmed copies to the dead-letter exchange with their reasons in one batch, then ack."""
        claim = self.consumer.claim
        claimed = [(held, reason) for delivery, reason in letters if (held := claim(delivery.receipt)) is not None]
        if not claimed:
            return
        dead_at = int(time.time() * 1000)
        try:
            for queue in dict.fromkeys(held.queue for held, _ in claimed):
                self.topology.ensure_queue(queue)
            self.publisher.publish([
                Outgoing(DEAD_EXCHANGE, held.queue, held.body, copy_properties(
                    held.properties, held.spent + 1, **{REASON: reason[:MAX_REASON], DEAD_AT: dead_at}))
                for held, reason in claimed
            ])
        except BaseException:
            for held, _ in claimed:
                self.consumer.unclaim(held)
            raise
        for held, _ in claimed:
            self.consumer.settle(held)

    def stop_consuming(self, queues: Sequence[str]) -> None:
        """Cancel this process's consumers of ``queues`` and hand back their unreserved prefetch unspent.

        queuekit's :class:`~queuekit.broker.Pausable`: a stopping worker calls it before it
        hands back its unstarted jobs, so RabbitMQ does not push them straight back here.
        """
        self.consumer.stop(queues)

    def extend(self, deliveries: Sequence[Delivery], lease: float) -> set[str]:
        """Nothing to renew: a delivery stays ours while its channel lives. Report the lost ones."""
        return self.consumer.lost([(d.id, d.receipt) for d in deliveries])

    # -- inspection and administration ---------------------------------------------------

    def stats(self, queues: Sequence[str] | None = None) -> dict[str, QueueStats]:
        """Depth per queue; ``in_flight`` counts this process's reserved deliveries only.

        Prefetched but unreserved deliveries count as ready. The consumer channel is
        synchronised before and after RabbitMQ's counts are read, so that a delivery
        travelling to this process is counted once when nothing else is moving.
        """
        # Connect even with no queue to read: an unreachable server is an error, not "no queues".
        self.publisher.link.wait_ready(self.settings.connect_timeout)
        names = list(queues) if queues is not None else sorted(self.topology.known_queues())
        self.consumer.sync()
        counts = {
            name: admin.queue_counts(self.publisher.link, self.settings.connect_timeout, name) for name in names
        }
        self.consumer.sync()
        buffered, held = self.consumer.local_counts()
        return {
            name: QueueStats(ready + buffered.get(name, 0), delayed, held.get(name, 0), dead)
            for name, (ready, delayed, dead) in counts.items()
        }

    def purge(self, queue: str) -> int:
        """Delete ready and delayed messages (and this process's unreserved prefetch)."""
        # RabbitMQ first: acking our prefetch first would free the window, and RabbitMQ would
        # push the next ready message to us between the two steps, uncounted and unpurged.
        purged = admin.purge(self.publisher.link, self.settings.connect_timeout, queue)
        self.consumer.sync()  # whatever was pushed before the purge is in the buffer now
        return purged + self.consumer.drop_buffered(queue)

    def dead_letters(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        """The oldest ``limit`` dead letters of ``queue``."""
        return admin.dead_letters(self.publisher.link, self.settings.connect_timeout, queue, limit)

    def requeue_dead(self, queue: str, ids: Sequence[str] | None = None) -> int:
        """Move dead letters back to ``queue`` with their attempts reset."""
        return admin.requeue_dead(
            self.publisher.link, self.settings.connect_timeout, self.publisher, self.topology, queue, ids
        )

    def purge_dead(self, queue: str) -> int:
        """Delete the dead letters of ``queue``."""
        return admin.purge_dead(self.publisher.link, self.settings.connect_timeout, queue)

    def delete_queue(self, queue: str) -> None:
        """Stop consuming ``queue`` here, then delete it with its dead-letter queue and delay ladder."""
        self.consumer.stop([queue])
        admin.delete_queue(self.publisher.link, self.settings.connect_timeout, queue)
        self.topology.forget()  # declare again on next use

    def close(self) -> None:
        """Hand back unreserved prefetched deliveries, close both connections. Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self.consumer.close()
        self.publisher.link.close()
        self._io.stop()
