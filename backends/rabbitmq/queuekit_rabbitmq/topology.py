"""Names, arguments and declarations of the queues and exchanges behind one work queue.

For a work queue ``q`` (queuekit queue names never contain ``@``, so these never clash):

* ``q``: durable; ``x-max-priority`` (classic) or ``x-queue-type: quorum``; dead-letters
  to the exchange ``queuekit.dead`` with routing key ``q``.
* ``q@dead``: the dead-letter queue, bound to ``queuekit.dead`` under ``q``.
* ``q@delay.0`` ... ``q@delay.31``: the delay ladder, declared on first use. Level ``i``
  is a topic exchange and a queue whose messages expire after ``2**i`` ms. A delayed
  message carries its delay in milliseconds as 32 binary words in its routing key; each
  level's exchange sends it into that level's queue when its bit is 1, or straight on to
  the next level down when it is 0; an expired message is dead-lettered to the next level
  down, and the last level hands it to ``q``. Waiting time is the sum of the set bits:
  exact to the millisecond (rounded up), never early, plus a few ms of hops.
"""

from __future__ import annotations

import threading
from typing import Any

from queuekit.errors import CapabilityError, ConfigurationError
from queuekit_rabbitmq.io import Link
from queuekit_rabbitmq.settings import Settings
from queuekit_rabbitmq.steps import ChannelError, TempChannel

DEAD_EXCHANGE = "queuekit.dead"
LEVELS = 32
MAX_DELAY_MS = 2**LEVELS - 1


def dead_queue(queue: str) -> str:
    """The dead-letter queue of ``queue``."""
    return f"{queue}@dead"


def delay_level(queue: str, level: int) -> str:
    """Name of the delay ladder's exchange and queue at ``level`` (TTL ``2**level`` ms)."""
    return f"{queue}@delay.{level}"


def delay_route(delay: float) -> tuple[int, str, int]:
    """(top level, routing key, milliseconds) for a delay in seconds; rounds up."""
    ms = int(-(-delay * 1000 // 1))
    if ms > MAX_DELAY_MS:
        raise CapabilityError(
            f"delay of {delay:.0f} s is over the RabbitMQ backend's limit of {MAX_DELAY_MS // 86_400_000} days"
        )
    bits = format(ms, f"0{LEVELS}b")
    return ms.bit_length() - 1, ".".join(bits), ms


def _bit_pattern(level: int, bit: str) -> str:
    words = ["*"] * (LEVELS - 1 - level) + [bit]
    return ".".join(words) + (".#" if level > 0 else "")


class Topology:
    """Declares what a queue needs, once per process, on a throwaway channel."""

    def __init__(self, link: Link, settings: Settings) -> None:
        self.link = link
        self.settings = settings
        self._queues: set[str] = set()
        self._levels: dict[str, int] = {}
        self._lock = threading.Lock()

    def work_arguments(self, queue: str) -> dict[str, Any]:
        """Arguments of the work queue itself."""
        args: dict[str, Any] = {
            "x-dead-letter-exchange": DEAD_EXCHANGE,
            "x-dead-letter-routing-key": queue,
        }
        if self.settings.queue_type == "quorum":
            args["x-queue-type"] = "quorum"
        elif self.settings.max_priority > 0:
            args["x-max-priority"] = self.settings.max_priority
        return args

    def _type_arguments(self) -> dict[str, Any]:
        return {"x-queue-type": "quorum"} if self.settings.queue_type == "quorum" else {}

    def ensure_queue(self, queue: str) -> None:
        """Declare ``queue``, its dead-letter queue and the dead-letter exchange."""
        if queue in self._queues:
            return
        with self._lock:
            if queue in self._queues:
                return
            with TempChannel(self.link, self.settings.connect_timeout) as chan:
                try:
                    chan.declare_exchange(DEAD_EXCHANGE, "direct")
                    chan.declare_queue(queue, self.work_arguments(queue))
                    chan.declare_queue(dead_queue(queue), self._type_arguments())
                    chan.bind_queue(dead_queue(queue), DEAD_EXCHANGE, queue)
                except ChannelError as exc:
                    raise _mismatch(queue, exc) from None
            self._queues.add(queue)

    def ensure_delay(self, queue: str, top: int) -> None:
        """Declare the delay ladder of ``queue`` up to level ``top``."""
        if self._levels.get(queue, -1) >= top:
            return
        self.ensure_queue(queue)
        with self._lock:
            have = self._levels.get(queue, -1)
            if have >= top:
                return
            with TempChannel(self.link, self.settings.connect_timeout) as chan:
                try:
                    for level in range(have + 1, top + 1):
                        self._declare_level(chan, queue, level)
                except ChannelError as exc:
                    raise _mismatch(delay_level(queue, have + 1), exc) from None
            self._levels[queue] = top

    def _declare_level(self, chan: TempChannel, queue: str, level: int) -> None:
        name = delay_level(queue, level)
        args: dict[str, Any] = {"x-message-ttl": 2**level, **self._type_arguments()}
        if level == 0:
            args.update({"x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue})
        else:
            args["x-dead-letter-exchange"] = delay_level(queue, level - 1)
        if self.settings.queue_type == "quorum":
            args.update({"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"})
        chan.declare_exchange(name, "topic")
        chan.declare_queue(name, args)
        chan.bind_queue(name, name, _bit_pattern(level, "1"))
        if level == 0:
            chan.bind_queue(queue, name, _bit_pattern(0, "0"))
        else:
            chan.bind_exchange(delay_level(queue, level - 1), name, _bit_pattern(level, "0"))

    def known_queues(self) -> list[str]:
        """Work queues this process has declared."""
        with self._lock:
            return sorted(self._queues)

    def forget(self) -> None:
        """Declare everything again on next use (after a queue was deleted)."""
        with self._lock:
            self._queues.clear()
            self._levels.clear()


def _mismatch(name: str, exc: ChannelError) -> ConfigurationError | ChannelError:
    if exc.code == 406:
        return ConfigurationError(
            f"RabbitMQ queue {name!r} already exists with other arguments ({exc.text}); "
            "delete it or use the same queue_type and max_priority it was created with"
        )
    return exc
