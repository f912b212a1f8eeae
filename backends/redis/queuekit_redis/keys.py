"""Key names. Every key of one queue carries the hash tag ``{prefix:queue}``.

Redis Cluster hashes only the braced part of a key, so all keys of a queue live in
one slot and every script that touches one queue is legal on a cluster. Which script
touches which keys is listed beside each tuple below (and in docs/backends/redis.md).
"""

from __future__ import annotations

import re
import threading

from queuekit.errors import ConfigurationError, UnknownQueue

_PREFIX = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
_QUEUE = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")

# Key suffixes of one queue, in one place.
SUFFIXES = (
    "ready",  # zset: 16-hex sequence + id, scored -priority
    "delayed",  # zset: id scored by due time (server ms)
    "leased",  # zset: id scored by lease deadline (server ms)
    "body",  # hash: id -> body
    "prio",  # hash: id -> score (-priority), only when not 0
    "att",  # hash: id -> attempts so far
    "rcpt",  # hash: id -> receipt of the current lease
    "dkey",  # hash: id -> dedup key
    "keys",  # hash: dedup key -> id holding it
    "seq",  # string: sequence for ready order, receipts and dead-letter order
    "wake",  # list: at most one wake-up token for blocked reserves
    "epoch",  # string: random per server lifetime of the queue's data
    "dead",  # zset: dead-lettered id scored by sequence (oldest first)
    "dbody",  # hash: dead id -> body
    "dinfo",  # hash: dead id -> 'attempts|dead-at-ms|score|reason'
)


class QueueKeys:
    """The key names of one queue, grouped as each script takes them."""

    __slots__ = (
        "dead_keys",
        "dead_letter",
        "enqueue",
        "extend",
        "nack",
        "name",
        "purge",
        "requeue",
        "reserve",
        "settle",
        "state",
        "stats",
        "tag",
        "wake",
    )

    def __init__(self, prefix: str, name: str) -> None:
        self.name = name
        self.tag = f"{{{prefix}:{name}}}"
        k = {suffix: f"{self.tag}:{suffix}" for suffix in SUFFIXES}
        self.wake = k["wake"]
        self.enqueue = tuple(k[s] for s in ("ready", "delayed", "body", "prio", "dkey", "keys", "seq", "wake", "epoch"))
        self.reserve = tuple(
            k[s] for s in ("ready", "delayed", "leased", "body", "prio", "att", "rcpt", "seq", "wake", "epoch")
        )
        self.settle = tuple(k[s] for s in ("leased", "body", "prio", "att", "rcpt", "dkey", "keys"))  # ack
        self.extend = (k["leased"], k["rcpt"])
        self.nack = tuple(k[s] for s in ("ready", "delayed", "leased", "prio", "att", "rcpt", "seq", "wake"))
        self.dead_letter = (*self.settle, k["seq"], k["dead"], k["dbody"], k["dinfo"])
        self.stats = (k["ready"], k["delayed"], k["leased"], k["dead"])
        self.state = (k["body"], k["leased"], k["dinfo"])
        self.purge = tuple(
            k[s] for s in ("ready", "delayed", "leased", "body", "prio", "att", "rcpt", "dkey", "keys")
        )
        self.dead_keys = (k["dead"], k["dbody"], k["dinfo"])  # dead_list, purge_dead
        self.requeue = tuple(
            k[s] for s in ("ready", "body", "prio", "att", "seq", "dead", "dbody", "dinfo", "wake")
        )


class Keyspace:
    """Key names under one prefix; queue keys are built once per queue name."""

    def __init__(self, prefix: str) -> None:
        if not isinstance(prefix, str) or not _PREFIX.match(prefix):
            raise ConfigurationError(
                f"invalid redis key prefix {str(prefix)[:80]!r}: use 1-64 letters, digits, '_', '.', ':' or '-'"
            )
        self.prefix = prefix
        self.registry = f"{prefix}:queues"  # set of queue names ever used (stats(None))
        self._queues: dict[str, QueueKeys] = {}
        self._lock = threading.Lock()

    def queue(self, name: str) -> QueueKeys:
        """The keys of queue ``name``; raise :class:`UnknownQueue` for an invalid name."""
        found = self._queues.get(name)
        if found is not None:
            return found
        if not isinstance(name, str) or not _QUEUE.match(name):
            raise UnknownQueue(
                f"invalid queue name {str(name)[:60]!r}: use 1-128 letters, digits, '_', '.', ':' or '-'"
            )
        with self._lock:
            return self._queues.setdefault(name, QueueKeys(self.prefix, name))

    def result(self, job_id: str) -> str:
        """Where a job's outcome is kept (no hash tag: results spread over the cluster)."""
        return f"{self.prefix}:result:{job_id}"
