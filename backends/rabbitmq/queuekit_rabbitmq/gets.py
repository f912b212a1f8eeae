"""Non-blocking reserves by ``basic.get`` on the consumer channel, one run at a time.

A run takes the head of each queue in turn (highest priority, then oldest) until it has
``limit`` or every queue answered ``get-empty``. Its gets are pipelined: RabbitMQ answers
a channel's gets in order, each with the head of the queue when it is processed, so
sending several before the first answer takes the same messages in the same order as
one at a time, in one round trip instead of one each. A run sends one get, then twice as
many as last time (up to ``PIPELINE``) while every answer brings a message, so an empty
queue costs one get and one that runs dry during a round fewer than ``PIPELINE`` empty answers.
The deliveries share the consumer channel's tags and ack window with consumed ones.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from queuekit.broker import Delivery
from queuekit_rabbitmq.acks import AckWindow
from queuekit_rabbitmq.io import Link, Reject, Resolve
from queuekit_rabbitmq.messages import ATTEMPTS, envelope_priority, int_header
from queuekit_rabbitmq.recall import copy_key

PIPELINE = 64  # most basic.get in flight at once in one run

# (generation, tag, queue, properties, body, spent) of a redelivery -> what to hand out, if anything
Returned = Callable[[int, int, str, Any, bytes, int], "Held | None"]


@dataclass
class Held:
    """A delivery on the consumer channel that has not been settled yet."""

    generation: int
    tag: int
    queue: str
    body: bytes
    properties: Any
    spent: int  # attempts spent before this delivery
    receipt: str

    @property
    def key(self) -> str | None:
        """This copy of the job (see :func:`queuekit_rabbitmq.recall.copy_key`)."""
        return copy_key(self.properties.message_id, self.spent)

    def delivery(self) -> Delivery:
        """The :class:`Delivery` handed to the caller of ``reserve``."""
        job_id = self.properties.message_id or f"amqp-{self.receipt}"
        return Delivery(job_id, self.queue, self.body, self.spent + 1, self.receipt, envelope_priority(self.properties))


class Getter:
    """Runs of ``basic.get`` (I/O thread only)."""

    def __init__(self, link: Link, window: AckWindow, returned: Returned) -> None:
        self.link = link
        self.window = window
        self.returned = returned
        self._runs: deque[tuple[int, list[str], int, Resolve]] = deque()

    def abandon(self) -> None:
        """The channel is gone, and with it anything a get took: every waiting run gets nothing."""
        runs = list(self._runs)
        self._runs.clear()
        for _generation, _queues, _limit, resolve in runs:
            resolve([])

    def submit(self, generation: int, queues: list[str], limit: int, resolve: Resolve, _reject: Reject) -> None:
        """Queue a run; it resolves with the :class:`Held` deliveries it took."""
        self._runs.append((generation, queues, limit, resolve))
        if len(self._runs) == 1:
            self._run(*self._runs[0])

    def _next(self) -> None:
        if self._runs:
            self._runs.popleft()
        if self._runs:
            self._run(*self._runs[0])

    def _run(self, generation: int, queues: list[str], limit: int, resolve: Resolve) -> None:
        channel = self.link.channel
        got: list[Held] = []
        if channel is None or not channel.is_open or self.link.generation != generation:
            resolve(got)
            self._next()
            return

        def next_gets(count: int) -> None:
            if len(got) >= limit or not queues or channel is not self.link.channel:
                resolve(got)
                self._next()
                return
            queue = queues[0]
            count = min(count, limit - len(got))
            waiting = [count, False]  # answers still due, and whether one was get-empty

            def answered(method: Any, properties: Any, body: bytes) -> None:
                if method is None:
                    waiting[1] = True
                else:
                    tag = method.delivery_tag
                    self.window.delivered(tag)
                    spent = int_header(properties.headers, ATTEMPTS)
                    if method.redelivered:
                        if (held := self.returned(generation, tag, queue, properties, body, spent)) is not None:
                            got.append(held)
                    else:
                        got.append(Held(generation, tag, queue, body, properties, spent, f"{generation}.{tag}"))
                waiting[0] -= 1
                if waiting[0] == 0:
                    if waiting[1]:
                        queues.pop(0)
                    next_gets(1 if waiting[1] else min(2 * count, PIPELINE))

            for _ in range(count):
                channel.get_in_order(queue, answered)

        next_gets(1)
