"""What a consumer remembers across a lost channel, so RabbitMQ's redeliveries run once.

When a channel is lost, RabbitMQ takes back every delivery it held unacknowledged and
delivers it again, flagged ``redelivered``, to whichever consumer comes next, usually
this process once it has reconnected. Each one falls in one of five cases:

* **handed out**: ``reserve`` gave it to the caller, who may be running it now and still
  holds the old receipt. The redelivery is *adopted*: the old receipt settles the new
  delivery tag from then on, and nothing is handed out twice.
* **finished**: the caller acked it shortly before, and the ack was dropped with the
  channel (or never reached RabbitMQ). It is acked at once and not run again.
* **buffered**: prefetched and never handed out, dropped from the buffer when the channel
  was lost. It is handed out like a fresh delivery, with no attempt spent: it never ran.
* **on the wire**: sent down the channel just before it died, never received. Nothing here
  remembers it; one that arrives within a few seconds of this process's own reconnect
  is taken for one of these and handed out unspent as well.
* anything else came back because another holder died with it (a crash, a kill): it is
  counted as an attempt, so that crash loops stay bounded.

A delivery is known by its message id and the attempts its headers say were spent
(:func:`copy_key`): a counted crash or a retry republishes a *new copy* of the job with
the same id and one more attempt, and that copy must never be taken for the one it
replaced. The keys of the finished and buffered cases are kept for a while
(:class:`Recall`); RabbitMQ redelivers within seconds of the reconnect.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable

RECALL_SECONDS = 120.0  # a RabbitMQ restart plus the reconnect backoff fits well within
RECALL_MOST = 100_000  # ids kept at most, whatever their age


def copy_key(message_id: str | None, spent: int) -> str | None:
    """What tells one copy of a job from another: its id and the attempts spent before it (None without an id)."""
    return f"{message_id}/{spent}" if message_id else None


class Recall:
    """Copy keys remembered for ``seconds``, at most ``most`` of them (not thread-safe)."""

    def __init__(self, seconds: float = RECALL_SECONDS, most: int = RECALL_MOST) -> None:
        self.seconds = seconds
        self.most = most
        self._ids: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ids: Iterable[str]) -> None:
        """Remember ``ids`` (copy keys) from now; forget the oldest past the age or count limit."""
        now = time.monotonic()
        remembered = self._ids
        for message_id in ids:
            remembered[message_id] = now
            remembered.move_to_end(message_id)
        horizon = now - self.seconds
        while remembered and (len(remembered) > self.most or next(iter(remembered.values())) < horizon):
            remembered.popitem(last=False)

    def take(self, key: str) -> bool:
        """True (and forget it) when ``key`` is remembered."""
        return self._ids.pop(key, None) is not None
