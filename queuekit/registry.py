"""Finds backends by URL scheme through the ``queuekit.backends`` entry-point group.

The core never imports a backend by name; only the in-memory reference backend,
which lives in the core, is known without an entry point.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, cast

from queuekit.broker import Broker, BrokerFactory
from queuekit.errors import ConfigurationError, UnknownSchemeError
from queuekit.urls import redact, scheme_of

GROUP = "queuekit.backends"

# Which distribution adds a scheme that is not installed, for the error message.
_PROVIDERS = {
    "sqlite": "queuekit-sql",
    "postgresql": "queuekit-sql",
    "postgres": "queuekit-sql",
    "mysql": "queuekit-sql",
    "mariadb": "queuekit-sql",
    "redis": "queuekit-redis",
    "rediss": "queuekit-redis",
    "redis+unix": "queuekit-redis",
    "amqp": "queuekit-rabbitmq",
    "amqps": "queuekit-rabbitmq",
}
_BUILTIN = {"memory": "queuekit.backends.memory:MemoryBroker"}


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, EntryPoint]:
    found = {ep.name.lower(): ep for ep in entry_points(group=GROUP)}
    for name, value in _BUILTIN.items():
        found.setdefault(name, EntryPoint(name=name, value=value, group=GROUP))
    return found


def installed_schemes() -> list[str]:
    """Every scheme an installed backend registers, sorted."""
    return sorted(_entry_points())


def _missing_hint(scheme: str) -> str:
    if scheme.startswith("kombu+"):
        return "; install queuekit-kombu for kombu transports"
    provider = _PROVIDERS.get(scheme)
    return f"; install {provider} to add it" if provider else ""


def backend_class(url: str) -> BrokerFactory:
    """The backend class registered for the URL's scheme; raise naming what is installed."""
    try:
        scheme = scheme_of(url)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    points = _entry_points()
    point = points.get(scheme)
    if point is None and "+" in scheme and scheme.split("+", 1)[0] in points:
        point = points[scheme.split("+", 1)[0]]  # e.g. kombu+sqs -> kombu, postgresql+psycopg
    if point is None:
        raise UnknownSchemeError(
            f"no installed backend handles {scheme + '://'!r} (in {redact(url)!r}); "
            f"installed schemes: {', '.join(installed_schemes())}{_missing_hint(scheme)}"
        )
    try:
        loaded = point.load()
    except ImportError as exc:
        raise ConfigurationError(
            f"backend for {scheme!r} is registered but cannot be imported: {exc}"
        ) from None
    return cast(BrokerFactory, loaded)


def open_broker(url: str, **options: Any) -> Broker:
    """Open the broker a URL names."""
    return backend_class(url).from_url(url, **options)
