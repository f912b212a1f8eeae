"""Queue names: the one rule every part of queuekit checks them by.

A name is 1-128 ASCII letters, digits, ``_``, ``.``, ``:`` or ``-``. That fits every broker
as it stands (a Redis key part, a RabbitMQ queue name, an SQL column value) and is safe to
print, so the core checks it once, before anything reaches a backend, and backends that
take names from elsewhere (the Broker protocol called directly) check with the same rule.
"""

from __future__ import annotations

import re

from queuekit.errors import InvalidQueueName

MAX_QUEUE_NAME = 128
_NAME = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")


def check_queue_name(name: object) -> str:
    """Return ``name`` if it is a valid queue name; raise :class:`InvalidQueueName` naming it."""
    if isinstance(name, str) and _NAME.fullmatch(name):
        return name
    raise InvalidQueueName(
        f"invalid queue name {str(name)[:60]!r}: use 1-{MAX_QUEUE_NAME} letters, digits, '_', '.', ':' or '-'"
    )
