"""Which backends a run covers, and why any of them is skipped.

Embedded backends (``memory``, ``sqlite``) always take part. Services take part when
named with ``--backends`` or, by default, when something answers at the usual local
address. A backend that cannot run is listed as skipped with the reason, never dropped.
"""

from __future__ import annotations

import importlib
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from queuekit.errors import ConfigurationError
from queuekit.registry import backend_class
from queuekit.urls import redact, scheme_of

# Default local addresses probed when --backends is not given. The SQL ones let queuekit-sql
# create its tables on first use, under a prefix of their own, in the existing database.
DEFAULT_SERVICES: dict[str, str] = {
    "redis": "redis://127.0.0.1:6379/0",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/",
    "postgresql": "postgresql://postgres@127.0.0.1:5432/test?migrate=auto&prefix=qkbench_",
    "mysql": "mysql://root@127.0.0.1:3306/test?migrate=auto&prefix=qkbench_",
}
ALIASES = {"amqp": "rabbitmq", "postgres": "postgresql", "mariadb": "mysql"}
EMBEDDED = ("memory", "sqlite")
DEFAULT_PORTS = {"redis": 6379, "rediss": 6380, "amqp": 5672, "amqps": 5671, "postgresql": 5432,
                 "postgres": 5432, "mysql": 3306, "mariadb": 3306}


# Per URL scheme: the client library the backend drives and the extra that installs both.
DRIVERS: dict[str, tuple[str, str]] = {
    "redis": ("redis", "redis"), "rediss": ("redis", "redis"),
    "amqp": ("pika", "rabbitmq"), "amqps": ("pika", "rabbitmq"),
    "postgresql": ("psycopg", "postgresql"), "postgres": ("psycopg", "postgresql"),
    "mysql": ("pymysql", "mysql"), "mariadb": ("pymysql", "mysql"),
    "kombu": ("kombu", "kombu"),
}


def install_hint(scheme: str) -> str:
    """The command that installs what a scheme needs (from a clone: ``pip install -e ".[redis]"``)."""
    extra = DRIVERS.get(scheme.split("+", 1)[0], (None, None))[1]
    return f'pip install "queuekit[{extra}]"' if extra else "install the backend that handles this scheme"


def missing_driver(scheme: str) -> str | None:
    """The skip reason when the client library a scheme needs cannot be imported; None when it can.

    Only a bare scheme is checked (``postgresql+psycopg2`` names its own driver and is left
    to the backend to open or refuse).
    """
    module = DRIVERS.get(scheme, (None, None))[0]
    if module is None:
        return None
    try:
        importlib.import_module(module)
    except ImportError:
        return f"driver {module!r} not installed: {install_hint(scheme)}"
    return None


@dataclass(frozen=True)
class Target:
    """One backend of the run: a name for the report, its URL, and a skip reason if any."""

    name: str
    url: str
    skipped: str | None = None

    @property
    def display(self) -> str:
        """The URL with credentials masked."""
        return redact(self.url)

    @property
    def scheme(self) -> str:
        """The URL scheme."""
        return scheme_of(self.url)


def expand(spec: str, workdir: Path, run_id: str) -> tuple[str, str]:
    """A ``--backends`` item (shorthand or URL) as (name, URL)."""
    item = spec.strip()
    short = ALIASES.get(item.lower(), item.lower())
    if short == "memory":
        return "memory", f"memory://qkbench-{run_id}"
    if short == "sqlite":
        return "sqlite", f"sqlite:///{workdir / 'bench.db'}"
    if short in DEFAULT_SERVICES:
        return short, DEFAULT_SERVICES[short]
    if "://" not in item:
        known = ", ".join([*EMBEDDED, *DEFAULT_SERVICES])
        raise ValueError(f"backend {item!r} is neither a URL nor one of {known}")
    scheme = scheme_of(item).split("+", 1)[0]
    name = ALIASES.get(scheme, "rabbitmq" if scheme.startswith("amqp") else scheme)
    if name == "memory" and item.partition("://")[2].strip("/") == "":
        item = f"memory://qkbench-{run_id}"  # a private memory broker could not meet its workers
    return name, item


def unique_names(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Number repeated names (``redis``, ``redis-2``) so every report row is distinct."""
    seen: dict[str, int] = {}
    out = []
    for name, url in pairs:
        seen[name] = seen.get(name, 0) + 1
        out.append((name if seen[name] == 1 else f"{name}-{seen[name]}", url))
    return out


def probe(name: str, url: str, timeout: float = 1.0) -> Target:
    """A target, skipped with the reason when its driver or backend is not installed or its server is silent."""
    scheme = scheme_of(url)
    missing = missing_driver(scheme)  # first: a backend whose driver is missing may not even import
    if missing is not None:
        return Target(name, url, missing)
    try:
        backend_class(url)
    except ConfigurationError as exc:
        known = scheme.split("+", 1)[0] in DRIVERS
        return Target(name, url, f"backend not installed: {install_hint(scheme) if known else redact(str(exc))}")
    address = _address(url)
    if address is not None:
        try:
            with socket.create_connection(address, timeout=timeout):
                pass
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            return Target(name, url, f"server not answering at {address[0]}:{address[1]}: {reason}")
    return Target(name, url)


def _address(url: str) -> tuple[str, int] | None:
    scheme = scheme_of(url).split("+", 1)[0]
    if scheme not in DEFAULT_PORTS:
        return None
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        return None
    return (parts.hostname or "127.0.0.1", port)


def discover(specs: list[str] | None, workdir: Path, run_id: str) -> list[Target]:
    """The targets of a run: those named, or the embedded ones plus every default service."""
    if specs:
        pairs = [expand(spec, workdir, run_id) for spec in specs if spec.strip()]
    else:
        pairs = [expand(name, workdir, run_id) for name in (*EMBEDDED, *DEFAULT_SERVICES)]
    return [probe(name, url) for name, url in unique_names(pairs)]
