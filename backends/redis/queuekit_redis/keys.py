"""Key names. Every key of one queue carries the hash tag ``{prefix:queue}``.

Redis Cluster hashes only the braced part of a key, so all keys of a queue live in
one slot and every script that touches one queue is legal on a cluster. Which script
touches which keys is listed beside each tuple below (and in docs/backends/redis.md).
"""

from __future__ import annotations

import re
import threading

from queuekit.errors import ConfigurationError
from queuekit.queues import check_queue_name

_PREFIX = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")

# Key suffixes of one queue, in one place.
SUFFIXES = (
    "ready",  # zset: 16-hex sequence + id, scored -priority
    "delayed",  # zset: id scored by due time (server ms)
    "leased",  # zset: id scored by lease deadline (server ms)
    "body",  # hash: id -> body
    "meta",  # hash: id -> 'attempts|receipt|score|dedup-key' (absent: fresh, priority 0, no key)
    "keys",  # hash: dedup key -> id holding it
    "info",  # hash: 'seq' (sequence for ready order, receipts, dead-letter order), 'epoch' (of the data)
    "wake",  # list: at most one wake-up token for blocked reserves
    "dead",  # zset: dead-lettered id scored by sequence (oldest first)
    "dbody",  # hash: dead id -> body
    "dinfo",  # hash: dead id -> 'attempts|dead-at-ms|score|reason'
)

# The KEYS each script takes, in order (see the header of lua/<script>.lua).
SCRIPT_KEYS = {
    "enqueue": ("ready", "delayed", "body", "meta", "keys", "info", "wake"),
    "reserve": ("ready", "delayed", "leased", "body", "meta", "info", "wake"),
    "ack": ("leased", "body", "meta", "keys"),
    "extend": ("leased", "meta"),
    "nack": ("ready", "delayed", "leased", "meta", "info", "wake"),
    "dead_letter": ("leased", "body", "meta", "keys", "info", "dead", "dbody", "dinfo"),
    "stats": ("ready", "delayed", "leased", "dead"),
    "state": ("body", "leased", "dinfo"),
    "purge": ("ready", "delayed", "leased", "body", "meta", "keys"),
    "dead_list": ("dead", "dbody", "dinfo"),
    "waiting": ("ready", "delayed", "body", "meta"),
    "requeue_dead": ("ready", "body", "meta", "info", "dead", "dbody", "dinfo", "wake"),
    "purge_dead": ("dead", "dbody", "dinfo"),
}


class QueueKeys:
    """The key names of one queue: ``keys.for_script[name]`` is that script's KEYS."""

    __slots__ = ("for_script", "name", "tag", "wake")

    def __init__(self, prefix: str, name: str) -> None:
        self.name = name
        self.tag = f"{{{prefix}:{name}}}"
        self.wake = f"{self.tag}:wake"
        self.for_script = {
            script: tuple(f"{self.tag}:{suffix}" for suffix in suffixes) for script, suffixes in SCRIPT_KEYS.items()
        }

    def key(self, suffix: str) -> str:
        """One key of this queue by suffix."""
        return f"{self.tag}:{suffix}"


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
        """The keys of queue ``name``; raise :class:`InvalidQueueName` for an invalid name."""
        found = self._queues.get(name)
        if found is not None:
            return found
        check_queue_name(name)
        with self._lock:
            return self._queues.setdefault(name, QueueKeys(self.prefix, name))

    def result(self, job_id: str) -> str:
        """Where a job's outcome is kept (no hash tag: results spread over the cluster)."""
        return f"{self.prefix}:result:{job_id}"
