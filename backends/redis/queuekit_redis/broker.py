"""``RedisBroker``: the Broker protocol on Redis, every state change one Lua script.

Producer and worker paths live here; inspection and administration in
:mod:`queuekit_redis.admin`; results in :mod:`queuekit_redis.results`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from queuekit.broker import (
    Capabilities,
    DeadLetter,
    Delivery,
    Durability,
    Envelope,
    JobStatus,
    Outcome,
    QueueStats,
    WaitingJob,
)
from queuekit_redis import admin, results
from queuekit_redis.connection import Connection
from queuekit_redis.durability import Fingerprint
from queuekit_redis.epochs import Epochs, StateReset
from queuekit_redis.keyvalue import KeyValueOps
from queuekit_redis.settings import SCHEMES, split_options

CHUNK = 1000  # jobs per script call: keeps Lua's unpack() and each call's run time bounded
PROMOTE_MAX = 1000  # due delayed jobs / expired leases promoted per queue per reserve
MAX_PRIORITY = 2**53 - 1  # priorities are zset scores (doubles): exact up to here
MAX_DELAY_MS = 10**14  # about 3,000 years; longer delays are clamped

BASE_CAPABILITIES = Capabilities(durability=Durability.NONE, dedup=True, results=True, job_state=True,
                                 delete_queue=True, browse=True, key_value=True, detects_state_loss=True)


def _options(env: Envelope, index: int) -> str:
    """The compact per-job options of enqueue.lua: '' or 'queue-index|score|delay-ms|key'."""
    if index == 1 and env.priority == 0 and not env.delay > 0 and not env.key:
        return ""
    if not isinstance(env.priority, int) or abs(env.priority) > MAX_PRIORITY:
        raise ValueError(f"job {env.id}: priority must be an int within ±{MAX_PRIORITY}, got {env.priority!r}")
    delay = min(math.ceil(env.delay * 1000), MAX_DELAY_MS) if env.delay > 0 else 0
    return f"{index}|{-env.priority}|{delay}|{env.key or ''}"


def _ms(seconds: float) -> int:
    return max(0, min(math.ceil(seconds * 1000), MAX_DELAY_MS)) if seconds == seconds else 0


class RedisBroker(KeyValueOps):
    """Broker, ResultStore, StateReporter and KeyValue on one Redis server (or Cluster-ready keyspace)."""

    schemes: ClassVar[tuple[str, ...]] = SCHEMES

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", **options: Any) -> None:
        client_url, settings, client_options = split_options(url, options)
        self._conn = conn = Connection(url, client_url, settings, client_options)
        self._keys = keys = conn.keys
        self._epochs = Epochs(conn.where, lambda queue: conn.run(lambda client: client.sadd(keys.registry, queue)))
        self._reserve_keys: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}
        self._capabilities: Capabilities | None = None
        self._turn = 0

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisBroker:
        """Open a broker for ``redis://``, ``rediss://`` or ``redis+unix://`` (see settings)."""
        return cls(url, **options)

    def __repr__(self) -> str:
        return f"<RedisBroker {self._conn.where} prefix={self._keys.prefix!r}>"

    @property
    def capabilities(self) -> Capabilities:
        """Declared capabilities; durability follows the server's persistence settings."""
        if self._capabilities is None:
            found = self._conn.server.fingerprint()
            if found is None:
                return BASE_CAPABILITIES  # unreachable for now: promise nothing about durability
            self._capabilities = dataclasses.replace(
                BASE_CAPABILITIES, durability=found.durability, max_message_size=found.max_bulk
            )
        return self._capabilities

    @property
    def fingerprint(self) -> Fingerprint | None:
        """The server's version, run id and persistence settings (None if unreachable)."""
        return self._conn.server.fingerprint()

    @property
    def resets(self) -> list[StateReset]:
        """Every loss of a queue's data this broker noticed (server restart without persistence)."""
        return list(self._epochs.resets)

    # -- producer side ---------------------------------------------------------------------

    def enqueue(self, envelopes: Sequence[Envelope]) -> list[str]:
        """Store envelopes atomically: one script call, or MULTI around several chunks.

        A held dedup key returns the holder's id; an id already queued or running is
        not stored twice, which also makes a retry after a lost connection safe. On a
        cluster each queue's jobs are one call (atomic per queue, not across queues).
        """
        if not envelopes:
            return []
        if len(envelopes) <= CHUNK and not (self._conn.cluster and len({env.queue for env in envelopes}) > 1):
            parts: list[Sequence[int]] = [range(len(envelopes))]  # the common case: one call
        elif self._conn.cluster:  # one call per queue (and chunk): each queue is its own slot
            by_queue: dict[str, list[int]] = {}
            for position, env in enumerate(envelopes):
                by_queue.setdefault(env.queue, []).append(position)
            parts = [group[i : i + CHUNK] for group in by_queue.values() for i in range(0, len(group), CHUNK)]
        else:
            parts = [range(i, min(i + CHUNK, len(envelopes))) for i in range(0, len(envelopes), CHUNK)]
        calls = [self._enqueue_call([envelopes[position] for position in part]) for part in parts]
        if len(calls) == 1:
            replies = [self._conn.retrying(functools.partial(self._conn.script, *calls[0][:3]))]
        else:
            replies = self._conn.retrying(
                functools.partial(self._conn.pipeline, [call[:3] for call in calls], transaction=True)
            )
        ids = [env.id for env in envelopes]
        for reply, (_, _, _, names), part in zip(replies, calls, parts, strict=True):
            for index, name in enumerate(names):
                self._epochs.observe(name, reply[2 * index], reply[2 * index + 1])
            for j in range(2 * len(names), len(reply), 2):
                ids[part[reply[j] - 1]] = reply[j + 1].decode()
        return ids

    def _enqueue_call(self, envelopes: Sequence[Envelope]) -> tuple[str, list[str], list[Any], list[str]]:
        order: dict[str, int] = {}
        args: list[Any] = [self._epochs.candidate]
        for env in envelopes:
            index = order.get(env.queue)
            if index is None:
                self._keys.queue(env.queue)  # validates the name
                index = order[env.queue] = len(order) + 1
            args += (env.id, env.body, _options(env, index))
        keys = [key for name in order for key in self._keys.queue(name).for_script["enqueue"]]
        return "enqueue", keys, args, list(order)

    # -- worker side -----------------------------------------------------------------------

    def reserve(self, queues: Sequence[str], limit: int, lease: float, wait: float = 0.0) -> list[Delivery]:
        """Lease up to ``limit`` jobs in one script call; block on the server up to ``wait``.

        While nothing is ready the call waits in BLPOP on the queues' wake-up lists,
        which enqueue and nack fill, and wakes early for the next delayed job or lease due.
        On a cluster, several queues are reserved one after the other (priorities then
        hold within each queue, not across them).
        """
        names = tuple(queues)
        if limit < 1 or not names:
            return []
        keys, wakes = self._keys_for(names)
        limit, millis = min(limit, CHUNK), _ms(lease)
        deadline = time.monotonic() + wait
        while True:
            if self._conn.cluster and len(names) > 1:
                got, next_ms = self._reserve_each(names, limit, millis)
            else:
                got, next_ms = self._reserve_once(names, keys, (self._epochs.candidate, limit, millis, PROMOTE_MAX))
            remaining = deadline - time.monotonic()
            if got or remaining <= 0:
                return got
            block = min(remaining, self._conn.max_block)
            if next_ms >= 0:
                block = min(block, next_ms / 1000 + 0.001)
            self._conn.block(wakes, block)

    def _keys_for(self, names: tuple[str, ...]) -> tuple[list[str], list[str]]:
        found = self._reserve_keys.get(names)
        if found is None:
            groups = [self._keys.queue(name) for name in names]
            keys = [key for group in groups for key in group.for_script["reserve"]]
            found = (keys, [group.wake for group in groups])
            self._reserve_keys[names] = found
        return found

    def _reserve_each(self, names: tuple[str, ...], limit: int, millis: int) -> tuple[list[Delivery], int]:
        """On a cluster: one queue (one slot) per script call, starting with a different one each time."""
        self._turn = (self._turn + 1) % len(names)
        got: list[Delivery] = []
        soonest = -1
        for name in names[self._turn :] + names[: self._turn]:
            args = (self._epochs.candidate, limit - len(got), millis, PROMOTE_MAX)
            more, next_ms = self._reserve_once((name,), self._keys_for((name,))[0], args)
            got += more
            if next_ms >= 0 and (soonest < 0 or next_ms < soonest):
                soonest = next_ms
            if len(got) >= limit:
                break
        return got, soonest

    def _reserve_once(
        self, names: tuple[str, ...], keys: list[str], args: tuple[Any, ...]
    ) -> tuple[list[Delivery], int]:
        reply = self._conn.script("reserve", keys, args)
        count = len(names)
        for index, name in enumerate(names):
            self._epochs.observe(name, reply[2 * index], reply[2 * index + 1])
        rest = iter(reply[2 * count + 1 :])  # six fields per delivery
        got = [
            Delivery(job_id.decode(), names[q - 1], body, attempts, receipt.decode(), priority)
            for q, job_id, body, attempts, receipt, priority in zip(rest, rest, rest, rest, rest, rest, strict=True)
        ]
        return got, int(reply[2 * count])

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Delete finished jobs in one round trip; stale receipts are ignored."""
        by_queue: dict[str, list[Any]] = {}
        for delivery in deliveries:
            by_queue.setdefault(delivery.queue, []).extend((delivery.id, delivery.receipt))
        self._settle("ack", by_queue, (), width=2)

    def nack(self, returns: Sequence[tuple[Delivery, float]], *, count_attempt: bool = True) -> None:
        """Return held jobs, each ready now or after its delay, in one round trip; stale receipts are ignored."""
        by_queue: dict[str, list[Any]] = {}
        for delivery, delay in returns:
            by_queue.setdefault(delivery.queue, []).extend(
                (delivery.id, delivery.receipt, _ms(delay) if delay > 0 else 0))
        self._settle("nack", by_queue, (1 if count_attempt else 0,), width=3)

    def dead_letter(self, letters: Sequence[tuple[Delivery, str]]) -> None:
        """Move held jobs to their queues' dead letters with their reasons, in one round trip."""
        by_queue: dict[str, list[Any]] = {}
        for delivery, reason in letters:
            by_queue.setdefault(delivery.queue, []).extend((delivery.id, delivery.receipt, reason))
        self._settle("dead_letter", by_queue, (), width=3)

    def _settle(self, script: str, by_queue: dict[str, list[Any]], head: tuple[Any, ...], *, width: int) -> None:
        """Run ``script`` on each queue's flat arguments (``width`` per job: id, receipt[, value]).

        CHUNK jobs a call; one call goes alone, several in one pipeline (one round trip).
        """
        calls = [
            self._conn.on(script, queue, [*head, *args[i : i + width * CHUNK]])
            for queue, args in by_queue.items()
            for i in range(0, len(args), width * CHUNK)
        ]
        if len(calls) == 1:
            self._conn.script(*calls[0])
        elif calls:
            self._conn.pipeline(calls, transaction=False)

    def extend(self, deliveries: Sequence[Delivery], lease: float) -> set[str]:
        """Renew held leases; return the ids whose lease was lost."""
        by_queue: dict[str, list[str]] = {}
        for delivery in deliveries:
            by_queue.setdefault(delivery.queue, []).extend((delivery.id, delivery.receipt))
        calls = [self._conn.on("extend", queue, [_ms(lease), *args]) for queue, args in by_queue.items()]
        if not calls:
            return set()
        replies = [self._conn.script(*calls[0])] if len(calls) == 1 else self._conn.pipeline(calls, transaction=False)
        return {job_id.decode() for reply in replies for job_id in reply}

    # -- inspection, administration and results (see admin.py and results.py) ---------------

    def stats(self, queues: Sequence[str] | None = None) -> dict[str, QueueStats]:
        """Depth per queue by state, on the server clock."""
        return admin.stats(self._conn, self._epochs, queues)

    def purge(self, queue: str) -> int:
        """Delete ready, delayed and lease-expired jobs of a queue; return how many."""
        return admin.purge(self._conn, queue)

    def delete_queue(self, queue: str) -> None:
        """Delete every key of a queue and drop it from the list of known queues."""
        admin.delete_queue(self._conn, self._epochs, queue)

    def dead_letters(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        """The oldest ``limit`` dead letters of a queue."""
        return admin.dead_letters(self._conn, queue, limit)

    def waiting(self, queue: str, *, delayed: bool = False, limit: int = 50) -> list[WaitingJob]:
        """Ready jobs in reserve order, or delayed ones soonest due first; nothing is taken."""
        return admin.waiting(self._conn, queue, delayed, limit)

    def requeue_dead(self, queue: str, ids: Sequence[str] | None = None) -> int:
        """Move dead letters (all, or those ids) back to ready, attempts reset."""
        return admin.requeue_dead(self._conn, queue, ids)

    def purge_dead(self, queue: str) -> int:
        """Delete a queue's dead letters; return how many."""
        return admin.purge_dead(self._conn, queue)

    def state(self, job_id: str) -> JobStatus | None:
        """QUEUED, RUNNING or DEAD for a job some queue holds; None otherwise."""
        return admin.state(self._conn, job_id)

    def save_outcomes(self, outcomes: Sequence[Outcome], ttl: float) -> None:
        """Store outcomes for ``ttl`` seconds (one pipelined round trip)."""
        results.save(self._conn, outcomes, ttl)

    def load_outcome(self, job_id: str) -> Outcome | None:
        """The stored outcome, or None."""
        return results.load(self._conn, job_id)

    def close(self) -> None:
        """Drop pooled connections. Safe to call twice."""
        self._conn.close()
