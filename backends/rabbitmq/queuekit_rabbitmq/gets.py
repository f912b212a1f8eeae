"""Non-blocking reserves by ``basic.get`` on the consumer channel, one run at a time.

pika allows one ``basic.get`` in flight per channel, so runs queue up. A run takes the
head of each queue in turn (highest priority, then oldest) until it has ``limit`` or
every queue answered ``get-empty``. The deliveries share the consumer channel's tags
and ack window with consumed ones.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pika import spec  # type: ignore[import-untyped]

from queuekit.broker import Delivery
from queuekit_rabbitmq.acks import AckWindow
from queuekit_rabbitmq.io import Link, Reject, Resolve
from queuekit_rabbitmq.messages import ATTEMPTS, envelope_priority, int_header
from queuekit_rabbitmq.recall import copy_key

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
        self._on_empty: Callable[[], None] | None = None

    def attach(self, channel: Any) -> None:
        """Route ``get-empty`` answers of a new channel to the run in progress."""
        channel.add_callback(self._empty, [spec.Basic.GetEmpty], one_shot=False)

    def abandon(self) -> None:
        """The channel is gone, and with it anything a get took: every waiting run gets nothing."""
        runs = list(self._runs)
        self._runs.clear()
        self._on_empty = None
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

        def next_get() -> None:
            if len(got) >= limit or not queues or channel is not self.link.channel:
                self._on_empty = None
                resolve(got)
                self._next()
                return
            queue = queues[0]

            def taken(_ch: Any, method: Any, properties: Any, body: bytes) -> None:
                tag = method.delivery_tag
                self.window.delivered(tag)
                spent = int_header(properties.headers, ATTEMPTS)
                if method.redelivered:
                    if (held := self.returned(generation, tag, queue, properties, body, spent)) is not None:
                        got.append(held)
                else:
                    got.append(Held(generation, tag, queue, body, properties, spent, f"{generation}.{tag}"))
                next_get()

            def empty() -> None:
                queues.pop(0)
                next_get()

            self._on_empty = empty
            channel.basic_get(queue, taken)

        next_get()

    def _empty(self, _frame: Any) -> None:
        handler, self._on_empty = self._on_empty, None
        if handler is not None:
            handler()
