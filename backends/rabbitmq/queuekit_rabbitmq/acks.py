"""The consumer channel's window of unacknowledged delivery tags, and batched acks.

Delivery tags on a channel rise by one per delivery. Settled tags at the head of the
window go out as a single ``basic.ack(multiple=True)``; a settled tag behind an
unsettled one (a long job at the head) is acked on its own at once, so the prefetch
window never stays full of finished work. Every tag is acked or requeued exactly
once: RabbitMQ closes the channel on an unknown or repeated tag.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any


class AckWindow:
    """Tags delivered on one channel and not yet settled (I/O thread only)."""

    def __init__(self) -> None:
        self._outstanding: deque[int] = deque()
        self._to_ack: set[int] = set()
        self._sent: set[int] = set()

    def reset(self) -> None:
        """Forget everything: a new channel starts at tag 1."""
        self._outstanding.clear()
        self._to_ack.clear()
        self._sent.clear()

    def delivered(self, tag: int) -> None:
        """Record a delivery (from ``basic.deliver`` or ``basic.get-ok``)."""
        self._outstanding.append(tag)

    def requeue(self, channel: Any, tag: int) -> None:
        """Give one delivery back to its queue."""
        channel.basic_nack(tag, requeue=True)
        self._sent.add(tag)

    def ack(self, channel: Any, tags: Iterable[int]) -> None:
        """Acknowledge ``tags``, as one multiple ack where they form the window's head."""
        to_ack, sent, outstanding = self._to_ack, self._sent, self._outstanding
        to_ack.update(tags)
        last = 0
        while outstanding and (outstanding[0] in to_ack or outstanding[0] in sent):
            head = outstanding.popleft()
            if head in to_ack:
                to_ack.discard(head)
                last = head
            else:
                sent.discard(head)
        if last:
            channel.basic_ack(last, multiple=True)
        for tag in to_ack:
            channel.basic_ack(tag)
            sent.add(tag)
        to_ack.clear()
