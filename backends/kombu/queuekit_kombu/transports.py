"""``kombu+<transport>://...`` URLs and what each kombu transport can honestly promise.

kombu hides the differences between transports behind one API, but not their
guarantees. This table claims only what holds through the adapter's use of kombu
(``basic_get``, ack, reject, publish); an unknown transport gets the weakest claims.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from kombu.transport import resolve_transport

from queuekit.broker import Capabilities, Durability
from queuekit.errors import ConfigurationError
from queuekit.urls import check_options, redact

_AMQP = ("amqp", "pyamqp", "amqps", "librabbitmq")

_DURABILITY = {
    **dict.fromkeys(_AMQP, Durability.DISK),  # durable queue, persistent messages, publisher confirms
    "memory": Durability.NONE,  # one process's memory
    # Redis, SQS, ...: kombu cannot see the server's persistence settings; claim nothing.
}
_REDIS = ("redis", "rediss")
_FIFO = {*_AMQP, "memory", *_REDIS}  # SQS standard queues, for one, are not FIFO
# Seconds to connect and to wait for any reply (kombu reads Redis with basic_get, never blocking
# on the server): a silent server is a ConnectionLost within these, not a hang.
_REDIS_BOUNDS = {"socket_connect_timeout": 5.0, "socket_timeout": 10.0}


@dataclass(frozen=True)
class Target:
    """A parsed ``kombu+`` URL: the kombu URL and the transport options from its query."""

    transport: str
    kombu_url: str
    options: dict[str, Any]


def parse(url: str) -> Target:
    """Split ``kombu+redis://host:6379/0?global_keyprefix=x`` into kombu's URL and options."""
    scheme, sep, rest = url.partition("://")
    head, plus, transport = scheme.lower().partition("+")
    if not sep or head != "kombu" or not plus or not transport:
        raise ConfigurationError(
            f"{redact(url)!r} is not a kombu URL; write kombu+<transport>://..., e.g. kombu+redis://localhost:6379/0"
        )
    query = urlsplit(url).query
    base = rest.split("?", 1)[0]
    options = {key: _coerce(value) for key, value in parse_qsl(query, keep_blank_values=True)}
    known = transport_option_names(transport)
    if known is not None:
        check_options(options, known, where=f"kombu+{transport}:// URLs")
    if transport in _AMQP:
        options.setdefault("confirm_publish", True)
    if transport in _REDIS:  # kombu's Redis channel waits for a silent server without end by default
        for name, value in _REDIS_BOUNDS.items():
            options.setdefault(name, value)
    if "global_keyprefix" in options:
        raise ConfigurationError(
            "global_keyprefix is not supported: kombu's prefixed Redis client does not prefix the EXISTS "
            "behind a passive queue declaration, so queue depths would read 0; give queues unique names instead"
        )
    return Target(transport, f"{transport}://{base}", options)


def bounds_hint(transport: str, exc: BaseException) -> str:
    """For a wait that ran out: which URL options bound it (empty when there is nothing to say)."""
    if transport in _REDIS and "timeout" in f"{type(exc).__name__} {exc}".lower():
        return " (the URL options socket_connect_timeout and socket_timeout bound each wait)"
    return ""


# Read by kombu.Connection itself (retry policy) and by every virtual transport's poller.
_CONNECTION_OPTIONS = frozenset(
    {"max_retries", "interval_start", "interval_step", "interval_max", "connect_retries_timeout", "polling_interval"}
)


def transport_option_names(transport: str) -> frozenset[str] | None:
    """The transport options kombu reads for ``transport``; None when that cannot be told.

    Virtual transports list theirs in ``Channel.from_transport_options``; the AMQP
    transports hand them to ``amqp.Connection``. A transport whose client library is
    not installed (or that lists nothing) is left to judge its own options.
    """
    try:
        kind = resolve_transport(transport)
    except (ImportError, KeyError, ValueError):
        return None
    names = getattr(getattr(kind, "Channel", None), "from_transport_options", None)
    if transport in _AMQP:
        try:
            import amqp  # type: ignore[import-untyped]
        except ImportError:
            return None
        names = [*inspect.signature(amqp.Connection).parameters, "confirm_publish"]
    if not names:
        return None
    return _CONNECTION_OPTIONS | {name for name in names if name != "kwargs"}


def _coerce(value: str) -> Any:
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def capabilities_for(transport: str) -> Capabilities:
    """What the adapter promises on ``transport``."""
    return Capabilities(
        durability=_DURABILITY.get(transport, Durability.NONE),
        fifo=transport in _FIFO,
        priorities=False,  # kombu's priority support differs per transport (steps, plugins): not claimed
        delays=False,  # no transport-independent delayed delivery; nack delays are held by the nacking process
        # Unacked messages return when the holder's channel closes (Redis: visibility timeout);
        # kombu's memory transport drops them instead (its channels do not restore).
        at_least_once=transport != "memory",
        lease_expiry=False,  # the caller's lease is not a timer in kombu
        dedup=False,
        results=False,
        job_state=False,
        transactional_enqueue=False,
        cross_process=transport != "memory",
    )
