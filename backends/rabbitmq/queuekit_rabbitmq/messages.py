"""AMQP properties of queuekit messages and of the copies the backend republishes.

Headers (all optional, so a message from another tool still runs):

* ``x-qk-attempts``: attempts already spent before this copy was published;
* ``x-qk-priority``: the envelope's priority when it lies outside ``0..max_priority``
  (the AMQP priority is clamped into that range);
* ``x-qk-reason`` and ``x-qk-dead-at``: why and when (epoch milliseconds) a dead letter was
  set aside.

Copies drop RabbitMQ's ``x-death`` history: a retried job goes down the delay ladder
again, and RabbitMQ would otherwise take the second trip for a dead-letter cycle and
drop the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pika  # type: ignore[import-untyped]

from queuekit.broker import Envelope

ATTEMPTS = "x-qk-attempts"
PRIORITY = "x-qk-priority"
REASON = "x-qk-reason"
DEAD_AT = "x-qk-dead-at"
PERSISTENT = 2
_RABBIT_HISTORY = ("x-death", "x-first-death-", "x-last-death-")


def clamp_priority(priority: int, max_priority: int) -> int:
    """The AMQP priority (0..max_priority) for an envelope priority."""
    return min(max(priority, 0), max_priority)


def new_properties(envelope: Envelope, max_priority: int) -> Any:
    """Properties of a freshly enqueued message: persistent, with the job id."""
    amqp_priority = clamp_priority(envelope.priority, max_priority)
    headers = {PRIORITY: envelope.priority} if amqp_priority != envelope.priority else None
    return pika.BasicProperties(
        delivery_mode=PERSISTENT,
        message_id=envelope.id,
        priority=amqp_priority or None,
        headers=headers,
    )


def int_header(headers: Mapping[str, Any] | None, name: str, default: int = 0) -> int:
    """An integer header, or ``default`` when it is missing or not an integer."""
    value = (headers or {}).get(name, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def envelope_priority(properties: Any) -> int:
    """The envelope's own priority of a delivered message."""
    return int_header(properties.headers, PRIORITY, properties.priority or 0)


def copy_properties(properties: Any, spent: int, **extra: Any) -> Any:
    """Properties for a republished copy: same id and priority, ``spent`` attempts."""
    headers = {
        key: value
        for key, value in (properties.headers or {}).items()
        if not key.startswith(_RABBIT_HISTORY) and key not in (REASON, DEAD_AT)
    }
    headers[ATTEMPTS] = spent
    headers.update(extra)
    return pika.BasicProperties(
        delivery_mode=PERSISTENT,
        message_id=properties.message_id,
        priority=properties.priority,
        headers=headers,
        content_type=properties.content_type,
        timestamp=properties.timestamp,
    )
