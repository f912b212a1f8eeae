"""Queue statistics and dead-letter administration, each on a throwaway channel.

AMQP cannot peek: listing dead letters takes them with ``basic.get`` without acking
and closes the channel, which puts them back in order. Requeueing publishes confirmed
copies to the work queue first and acks the dead letters only after that.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from queuekit.broker import DeadLetter
from queuekit_rabbitmq.io import Link
from queuekit_rabbitmq.messages import ATTEMPTS, DEAD_AT, REASON, copy_properties, int_header
from queuekit_rabbitmq.publisher import Outgoing, Publisher
from queuekit_rabbitmq.steps import ChannelError, TempChannel
from queuekit_rabbitmq.topology import LEVELS, Topology, dead_queue, delay_level


def _count(link: Link, timeout: float, name: str) -> int | None:
    """Ready messages of a queue, or None if it does not exist."""
    with TempChannel(link, timeout) as chan:
        try:
            return chan.declare_queue(name, passive=True)
        except ChannelError as exc:
            if exc.code == 404:
                return None
            raise


def queue_counts(link: Link, timeout: float, queue: str) -> tuple[int, int, int]:
    """(ready, delayed, dead) as RabbitMQ counts them; unacked deliveries are in none."""
    ready = _count(link, timeout, queue)
    if ready is None:
        return 0, 0, 0
    dead = _count(link, timeout, dead_queue(queue)) or 0
    delayed = 0
    with TempChannel(link, timeout) as chan:
        for level in range(LEVELS):
            try:
                delayed += chan.declare_queue(delay_level(queue, level), passive=True)
            except ChannelError as exc:
                if exc.code == 404:
                    break  # levels are declared bottom up: none above a missing one
                raise
    return ready, delayed, dead


def purge(link: Link, timeout: float, queue: str) -> int:
    """Purge ready and delayed messages held by RabbitMQ; return how many."""
    total = 0
    with TempChannel(link, timeout) as chan:
        try:
            total += chan.purge(queue)
        except ChannelError as exc:
            if exc.code == 404:
                return 0
            raise
    with TempChannel(link, timeout) as chan:
        for level in range(LEVELS):
            try:
                total += chan.purge(delay_level(queue, level))
            except ChannelError as exc:
                if exc.code == 404:
                    break
                raise
    return total


def delete_queue(link: Link, timeout: float, queue: str) -> None:
    """Delete the work queue, its dead-letter queue and its delay ladder (queues and exchanges)."""
    with TempChannel(link, timeout) as chan:
        chan.delete_queue(queue)
        chan.delete_queue(dead_queue(queue))
        for level in range(LEVELS):
            chan.delete_queue(delay_level(queue, level))
            chan.delete_exchange(delay_level(queue, level))


def _letter(queue: str, properties: Any, body: bytes) -> DeadLetter:
    headers = properties.headers or {}
    reason = headers.get(REASON)
    if not isinstance(reason, (str, bytes)):
        reason = _rabbit_reason(headers)
    dead_at = headers.get(DEAD_AT)
    return DeadLetter(
        id=properties.message_id or "",
        queue=queue,
        body=body,
        reason=reason.decode(errors="replace") if isinstance(reason, bytes) else reason,
        attempts=int_header(headers, ATTEMPTS),
        dead_at=dead_at / 1000 if isinstance(dead_at, int) else 0.0,
    )


def _rabbit_reason(headers: dict[str, Any]) -> str:
    """A reason for messages RabbitMQ dead-lettered itself (x-death), not queuekit."""
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        return f"rabbitmq: {deaths[0].get('reason', 'dead-lettered')}"
    return "unknown"


def _returned(link: Link, timeout: float, name: str, expected: int) -> None:
    """Wait until messages given back by a closed channel are counted again.

    Classic queues count them at once; a quorum queue applies the return through its Raft
    log, so for a moment its count can lag behind.
    """
    deadline = time.monotonic() + min(timeout, 5.0)
    while (_count(link, timeout, name) or 0) < expected and time.monotonic() < deadline:
        time.sleep(0.01)


def dead_letters(link: Link, timeout: float, queue: str, limit: int) -> list[DeadLetter]:
    """The oldest ``limit`` dead letters of ``queue``; they stay where they are."""
    letters: list[DeadLetter] = []
    before = _count(link, timeout, dead_queue(queue))
    if before is None:
        return letters
    with TempChannel(link, timeout) as chan:
        take = chan.get()
        while len(letters) < limit:
            found = take(dead_queue(queue))
            if found is None:
                break
            _method, properties, body = found
            letters.append(_letter(queue, properties, body))
    _returned(link, timeout, dead_queue(queue), before)
    return letters


def requeue_dead(
    link: Link, timeout: float, publisher: Publisher, topology: Topology, queue: str, ids: Sequence[str] | None
) -> int:
    """Move dead letters (all, or those ids) back to the work queue with no attempts spent."""
    wanted = None if ids is None else set(ids)
    before = _count(link, timeout, dead_queue(queue))
    if before is None:
        return 0
    topology.ensure_queue(queue)
    with TempChannel(link, timeout) as chan:
        take = chan.get()
        tags: list[int] = []
        copies: list[Outgoing] = []
        while (found := take(dead_queue(queue))) is not None:
            method, properties, body = found
            if wanted is not None and properties.message_id not in wanted:
                continue
            tags.append(method.delivery_tag)
            copies.append(Outgoing("", queue, body, copy_properties(properties, 0)))
        publisher.publish(copies)
        if tags:
            chan.ack(tags)
    _returned(link, timeout, dead_queue(queue), before - len(tags))
    return len(tags)


def purge_dead(link: Link, timeout: float, queue: str) -> int:
    """Delete a queue's dead letters; return how many."""
    with TempChannel(link, timeout) as chan:
        try:
            return chan.purge(dead_queue(queue))
        except ChannelError as exc:
            if exc.code == 404:
                return 0
            raise
