"""Backend settings read from the broker URL's query string (and App broker options).

Options that are queuekit's own are removed before the URL reaches pika; every other
query parameter (``heartbeat``, ``ssl_options``, ``socket_timeout``...) is pika's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pika  # type: ignore[import-untyped]

from queuekit.errors import ConfigurationError
from queuekit.urls import CREATE, check_options, redact

OWN_OPTIONS = ("queue_type", "max_priority", "prefetch", "connect_timeout", "confirm_timeout")
QUEUE_TYPES = ("classic", "quorum")
DEFAULT_HEARTBEAT = "20"  # pika closes a silent connection after 25-50 s: within two default leases


@dataclass(frozen=True)
class Settings:
    """What the broker needs besides pika's connection parameters."""

    pika_url: str
    queue_type: str = "classic"
    max_priority: int = 9
    prefetch: int | None = None  # None: follow the largest ``limit`` a caller reserves
    connect_timeout: float = 10.0
    confirm_timeout: float = 30.0

    @property
    def priorities(self) -> bool:
        """Classic queues take ``x-max-priority``; quorum queues on RabbitMQ 3.10 do not."""
        return self.queue_type == "classic" and self.max_priority > 0


def parse(url: str, options: Mapping[str, Any] | None = None) -> Settings:
    """Split queuekit's options out of an ``amqp://`` or ``amqps://`` URL."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("amqp", "amqps"):
        raise ConfigurationError(f"{redact(url)!r} is not an amqp:// or amqps:// URL")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    check_options(query, (*OWN_OPTIONS, *pika_options()), where=f"{parts.scheme.lower()}:// URLs")
    check_options(options or {}, (*OWN_OPTIONS, CREATE), where="the RabbitMQ broker's keyword options")
    own = {key: query.pop(key) for key in OWN_OPTIONS if key in query}
    own.update((key, str(value)) for key, value in (options or {}).items() if key != CREATE)  # reads declare nothing
    query.setdefault("heartbeat", DEFAULT_HEARTBEAT)
    pika_url = urlunsplit((parts.scheme.lower(), parts.netloc, parts.path, urlencode(query), ""))
    queue_type = own.get("queue_type", "classic").lower()
    if queue_type not in QUEUE_TYPES:
        raise ConfigurationError(f"queue_type must be one of {', '.join(QUEUE_TYPES)}, got {queue_type!r}")
    return Settings(
        pika_url=pika_url,
        queue_type=queue_type,
        max_priority=_number(own, "max_priority", int, 9, 0, 255),
        prefetch=_number(own, "prefetch", int, None, 1, 65535),
        connect_timeout=_number(own, "connect_timeout", float, 10.0, 0.1, 3600.0),
        confirm_timeout=_number(own, "confirm_timeout", float, 30.0, 0.1, 3600.0),
    )


def pika_options() -> list[str]:
    """The URL query options pika's ``URLParameters`` accepts (it has a setter for each)."""
    prefix = "_set_url_"
    return [name[len(prefix):] for name in dir(pika.URLParameters) if name.startswith(prefix)]


def _number(own: Mapping[str, str], key: str, kind: type[Any], default: Any, low: float, high: float) -> Any:
    if key not in own:
        return default
    try:
        value = kind(own[key])
    except ValueError:
        raise ConfigurationError(f"{key} must be a number, got {own[key][:40]!r}") from None
    if not low <= value <= high:
        raise ConfigurationError(f"{key} must be between {low:g} and {high:g}, got {value}")
    return value
