"""Finds backends by URL scheme through the ``queuekit.backends`` entry-point group.

The core never imports a backend by name; only the in-memory reference backend,
which lives in the core, is known without an entry point.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, cast

from queuekit.broker import Broker, BrokerFactory
from queuekit.errors import ConfigurationError, UnknownSchemeError
from queuekit.urls import near_url, redact, scheme_of

GROUP = "queuekit.backends"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
_BUILTIN = {"memory": "queuekit.backends.memory:MemoryBroker"}


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, EntryPoint]:
    found = {ep.name.lower(): ep for ep in entry_points(group=GROUP)}
    for name, value in _BUILTIN.items():
        found.setdefault(name, EntryPoint(name=name, value=value, group=GROUP))
    return found


def _normalize(name: str) -> str:
    """A distribution or module name, compared case- and separator-blind (PyMySQL, pymysql)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_schemes() -> list[str]:
    """Every scheme an installed backend registers, sorted."""
    return sorted(_entry_points())


def install_hint(point: EntryPoint, missing: str | None) -> str:
    """The pip command that brings the module ``missing`` for a backend, or "" if none is known.

    The extra is read from the metadata of the distribution that registers the entry point
    (its ``Requires-Dist: <name>; extra == "<extra>"`` lines), so the hint is right for
    this distribution and for any third-party backend alike: ``pip install "queuekit[redis]"``.
    """
    dist = getattr(point, "dist", None)
    if dist is None or not missing:
        return ""
    wanted = _normalize(missing.split(".")[0])
    extras: dict[str, list[str]] = {}
    for requirement in dist.requires or ():
        name, marker = _NAME.match(requirement), _EXTRA.search(requirement)
        if name and marker:
            extras.setdefault(marker.group(1), []).append(_normalize(name.group(0)))
    fitting = [extra for extra, names in extras.items() if wanted in names]
    if not fitting:
        return ""
    narrowest = min(fitting, key=lambda extra: len(extras[extra]))  # [redis], not [all]
    return f'; install it with: pip install "{dist.metadata["Name"]}[{narrowest}]"'


def backend_class(url: str) -> BrokerFactory:
    """The backend class registered for the URL's scheme; raise naming what is installed."""
    try:
        scheme = scheme_of(url)
    except ValueError as exc:
        meant = near_url(url)
        hint = f" (did you mean {redact(meant)!r}?)" if meant and scheme_of(meant) in _entry_points() else ""
        raise ConfigurationError(f"{exc}{hint}") from None
    points = _entry_points()
    point = points.get(scheme)
    if point is None and "+" in scheme and scheme.split("+", 1)[0] in points:
        point = points[scheme.split("+", 1)[0]]  # e.g. kombu+sqs -> kombu, postgresql+psycopg
    if point is None:
        raise UnknownSchemeError(
            f"no installed backend handles {scheme + '://'!r} (in {redact(url)!r}); "
            f"installed schemes: {', '.join(installed_schemes())}"
        )
    try:
        loaded = point.load()
    except ImportError as exc:
        raise ConfigurationError(
            f"backend for {scheme!r} is registered but cannot be imported: {exc}{install_hint(point, exc.name)}"
        ) from None
    return cast(BrokerFactory, loaded)


def anchor_url(url: str, base: Path) -> str:
    """``url`` with a relative file path in it made relative to ``base`` (a config file's folder).

    Only a backend that stores in a file knows what a relative path looks like in its URLs
    (``sqlite:///jobs.db``): it says so with an optional ``anchor_url(url, base)`` classmethod.
    Any other URL, or one whose backend cannot be loaded (its error comes at ``App()``), is
    returned as it is.
    """
    try:
        anchor = getattr(backend_class(url), "anchor_url", None)
    except ConfigurationError:
        return url
    return str(anchor(url, base)) if callable(anchor) else url


def open_broker(url: str, **options: Any) -> Broker:
    """Open the broker a URL names."""
    return backend_class(url).from_url(url, **options)
