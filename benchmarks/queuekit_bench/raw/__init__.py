"""Raw-client baselines: the same server driven by its own client library, no queuekit.

Each baseline is the simplest at-least-once loop the client allows (push; take one
message, then acknowledge or delete it), so that "queuekit reaches N % of the raw
client" is a statement about queuekit's own overhead. A baseline whose client library
is not installed is reported as unavailable; the backend row still runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from queuekit.urls import query_options, scheme_of


class RawUnavailable(RuntimeError):
    """The raw client for a URL cannot be used (library missing, or no baseline for the scheme)."""


class RawQueue(Protocol):
    """One queue on the server, driven by the raw client."""

    @property
    def client(self) -> str:
        """The client library and version, e.g. ``redis-py 5.0.1``."""
        ...

    def push(self, bodies: Sequence[bytes]) -> None:
        """Store the bodies in one round trip or transaction."""
        ...

    def pop_ack(self, limit: int) -> int:
        """Take up to ``limit`` messages and acknowledge them; return how many were taken."""
        ...

    def purge(self) -> None:
        """Delete every message of the queue."""
        ...

    def close(self) -> None:
        """Delete the queue (table, key, queue) and disconnect."""
        ...


@runtime_checkable
class WindowedPublisher(RawQueue, Protocol):
    """A raw queue that can also keep several confirmed publishes in flight on one channel (RabbitMQ)."""

    def publish_window(self, body: bytes, count: int, window: int) -> float:
        """Seconds to publish ``count`` bodies, confirmed, with ``window`` unconfirmed at a time."""
        ...


def open_raw(url: str, name: str, durability: str = "none") -> RawQueue:
    """The raw baseline for ``url`` on a queue (or table, or key) called ``name``.

    ``durability`` is what the backend declares; the SQLite baseline syncs to match it.
    """
    scheme = scheme_of(url).split("+", 1)[0]
    if scheme == "memory":
        from queuekit_bench.raw.embedded import DequeQueue

        return DequeQueue()
    if scheme == "sqlite":
        from queuekit_bench.raw.embedded import SqliteQueue

        return SqliteQueue(_sqlite_path(url), name, _synchronous(url, durability))
    if scheme in ("redis", "rediss"):
        from queuekit_bench.raw.network import RedisQueue

        return RedisQueue(url, name)
    if scheme in ("amqp", "amqps"):
        from queuekit_bench.raw.network import AmqpQueue

        return AmqpQueue(url, name)
    if scheme in ("postgresql", "postgres"):
        from queuekit_bench.raw.sqldb import PostgresQueue

        return PostgresQueue(url, name)
    if scheme in ("mysql", "mariadb"):
        from queuekit_bench.raw.sqldb import MysqlQueue

        return MysqlQueue(url, name)
    raise RawUnavailable(f"no raw baseline for {scheme}://")


def _sqlite_path(url: str) -> Path:
    """The raw baseline's own file beside the backend's database (same disk, separate file)."""
    rest = url.partition("://")[2].split("?", 1)[0]
    path = Path(rest[1:] if rest.startswith("/") else rest)
    if str(path) in ("", ":memory:"):
        raise RawUnavailable("the raw sqlite baseline needs a file database")
    return path.with_name(path.stem + "-raw.db")


def _synchronous(url: str, durability: str) -> str:
    """The URL's ``?synchronous=`` if given, else FULL for a backend declaring disk durability, else NORMAL."""
    chosen = query_options(url).get("synchronous", "").upper() or ("FULL" if durability == "disk" else "NORMAL")
    if chosen not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise RawUnavailable(f"synchronous={chosen.lower()} is not a SQLite synchronous level")
    return chosen


def require(module: str, dist: str, label: str) -> str:
    """Import check for a client library; return ``"label version"`` or raise RawUnavailable."""
    from importlib import import_module
    from importlib.metadata import PackageNotFoundError, version

    try:
        import_module(module)
    except ImportError:
        raise RawUnavailable(f"{label} is not installed") from None
    try:
        return f"{label} {version(dist)}"
    except PackageNotFoundError:
        return label
