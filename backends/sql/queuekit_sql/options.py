"""Broker settings: what a ``sqlite://``, ``postgresql://`` or ``mysql://`` URL asks for.

queuekit's own options ride in the URL query (``?prefix=app_&synchronous=full``) or as
keyword options from the app's settings; everything else in the query goes to the
driver untouched (``sslmode=require``, ``charset=...``).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from queuekit.errors import BrokerError, ConfigurationError
from queuekit.urls import CREATE, check_options, redact

Clock = Callable[[], float]

# Identifiers (table prefix, schema) are validated, then quoted. Queue names are data.
PREFIX_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,29}$")
SCHEMA_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# queuekit URL scheme -> SQLAlchemy scheme with the driver queuekit-sql ships for it.
_DEFAULT_DRIVERS = {
    "sqlite": "sqlite+pysqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
_FAMILY = {
    "sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql", "mysql": "mysql", "mariadb": "mysql",
}
_MIGRATE = ("auto", "check")
_MIGRATE_ALIASES = {"true": "auto", "false": "check"}  # ?migrate=false: never run DDL (a role without it)
_SYNCHRONOUS = ("off", "normal", "full", "extra")
# What a reading command says after "nothing was enqueued there": every command's way to name the app.
ANOTHER_URL = (
    "does the app use another URL? name the app: queuekit status myapp.tasks:app, queuekit job ID "
    "myapp.tasks:app, queuekit dlq list QUEUE --app myapp.tasks:app; or give --url"
)
# Servers only: the bounds of a wait on a silent server (both overridable in the URL query).
CONNECT_TIMEOUT = 5  # seconds to connect and log in (libpq's and pymysql's connect_timeout)
READ_TIMEOUT = 10.0  # seconds a statement waits for an answer (queuekit's read_timeout)
# libpq: connect within CONNECT_TIMEOUT; TCP keepalives find a peer that vanished from the
# network (an idle LISTEN connection) in about a minute.
_POSTGRESQL_LINK = {
    "connect_timeout": str(CONNECT_TIMEOUT), "keepalives": "1", "keepalives_idle": "30",
    "keepalives_interval": "10", "keepalives_count": "3",
}
_BOOL = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


@dataclass(frozen=True)
class Settings:
    """Everything the SQL broker needs to know, parsed and validated."""

    url: URL  # SQLAlchemy URL with queuekit's own query options removed
    family: str  # "sqlite" | "postgresql" | "mysql"
    given: str = ""  # the URL as the user wrote it (shown redacted, without its query)
    prefix: str = "queuekit_"
    schema: str | None = None
    migrate: str = "auto"  # "auto" (true): create/upgrade on first use; "check" (false): refuse a missing or old schema
    synchronous: str = "normal"  # SQLite only
    busy_timeout: float = 30.0  # SQLite only: seconds a writer waits for the lock
    read_timeout: float = READ_TIMEOUT  # servers: seconds a statement waits for an answer, then the link is lost
    poll_max: float = 0.25  # longest pause between polls of an idle blocking reserve
    pool_size: int = 5
    max_overflow: int = 10
    pre_ping: bool = False
    notify: bool = True  # PostgreSQL: LISTEN/NOTIFY wake-ups
    plan_guard: bool = True  # PostgreSQL: pooled sessions plan index paths only (no seq/bitmap scans)
    vacuum: bool = True  # PostgreSQL: workers vacuum the jobs table when its dead rows pile up
    clock: Clock | None = field(default=None, compare=False)  # None: the database's (or SQLite's process) clock

    @property
    def memory(self) -> bool:
        """True for an in-memory SQLite database (one process, gone at close)."""
        return self.family == "sqlite" and self.url.database in (None, "", ":memory:")

    @property
    def redacted(self) -> str:
        """The URL for messages and logs, password masked."""
        return redact(self.given.split("?", 1)[0]) if self.given else redact(str(self.url))


def parse(url: str, options: Mapping[str, Any]) -> Settings:
    """Parse a queuekit SQL URL plus keyword options (which win over the query)."""
    scheme, sep, rest = url.partition("://")
    base, _, driver = scheme.lower().partition("+")
    if not sep or base not in _DEFAULT_DRIVERS:
        raise ConfigurationError(f"{redact(url)!r} is not a sqlite://, postgresql:// or mysql:// URL")
    target = f"{base}+{driver}" if driver else _DEFAULT_DRIVERS[base]
    if base == "postgres":
        target = target.replace("postgres+", "postgresql+", 1)
    try:
        parsed = make_url(f"{target}://{rest}")
    except ArgumentError as exc:
        raise ConfigurationError(f"cannot parse {redact(url)!r}: {exc}") from None
    query = {key: (value[-1] if isinstance(value, tuple) else value) for key, value in parsed.query.items()}
    mine = {key: query.pop(key) for key in list(query) if key in _KEYS}
    check_options(options, _KEYS | {CREATE}, where="the SQL broker's keyword options")
    create = _flag(CREATE, options.get(CREATE, True))
    options = {key: value for key, value in options.items() if key != CREATE}
    driver_known = driver_options(target, query)
    if driver_known is not None:
        check_options(query, (_KEYS - {"clock"}) | driver_known, where=f"{base}:// URLs")
    merged: dict[str, Any] = {**mine, **options}
    family = _FAMILY[base]
    if family == "postgresql":  # the URL's own values win; the LISTEN connection reads the same URL
        query = {**_POSTGRESQL_LINK, **query}
    settings = Settings(url=parsed.set(query=query), family=family, given=url, **_defaults(family))
    settings = _apply(settings, merged)
    if family == "sqlite":
        _check_sqlite_path(url, parsed)
    if not create:
        settings = _existing_only(settings)
    elif family == "sqlite" and not settings.memory:
        _check_sqlite_folder(settings.url.database or "")
    return settings


_SQLITE_FORMS = "sqlite:///relative/to/the/working/directory.db or sqlite:////absolute/path.db"


def _check_sqlite_path(url: str, parsed: URL) -> None:
    """``sqlite://jobs.db`` (two slashes) names a host, which SQLite has none of."""
    if parsed.host or parsed.username or parsed.port:
        scheme, _, rest = url.partition("://")
        meant = f"{scheme}:///{rest.rpartition('@')[2]}"
        raise ConfigurationError(
            f"{redact(url)!r} names a host, and SQLite has none: a file is {_SQLITE_FORMS} "
            f"(did you mean {redact(meant)!r}?)"
        )


def _check_sqlite_folder(database: str) -> None:
    """A SQLite file can be created, not the folders above it: name the missing one."""
    if database.startswith("file:"):
        return  # a URI filename (uri=true): SQLite reads its own syntax
    folder = os.path.dirname(os.path.abspath(database))
    if not os.path.isdir(folder):
        raise ConfigurationError(
            f"no folder {folder} for the SQLite file {os.path.basename(database)!r}: create it "
            f"(mkdir -p {folder}) or fix the path ({_SQLITE_FORMS})"
        )


def anchor(url: str, base: Path) -> str:
    """A ``sqlite:///relative.db`` URL made ``sqlite:////base/relative.db``; any other URL unchanged."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower().partition("+")[0] != "sqlite" or not rest.startswith("/"):
        return url  # a server URL, or sqlite:// (in memory)
    path, mark, query = rest[1:].partition("?")
    if not path or path.startswith(("/", ":memory:", "file:")) or os.path.isabs(path):
        return url
    return f"{scheme}:///{(base / path).resolve()}{mark}{query}"


def _existing_only(settings: Settings) -> Settings:
    """``create=False``: touch no schema, and open no SQLite file that is not there already."""
    database = settings.url.database
    sqlite_file = settings.family == "sqlite" and not settings.memory and database and not database.startswith("file:")
    if sqlite_file and database and not os.path.exists(database):
        raise BrokerError(
            f"no SQLite database at {os.path.abspath(database)}: nothing was enqueued there "
            f"({ANOTHER_URL})"
        )
    return Settings(**{**settings.__dict__, "migrate": "read"})  # like check, but says "nothing enqueued"


_KEYS = frozenset(
    {"prefix", "schema", "migrate", "synchronous", "timeout", "read_timeout", "poll_max", "pool_size",
     "max_overflow", "pre_ping", "notify", "plan_guard", "vacuum", "clock"}
)


# SQLite URI parameters (https://www.sqlite.org/uri.html), read when ``uri=true``.
_SQLITE_URI = frozenset({"vfs", "mode", "cache", "psow", "nolock", "immutable"})
# What SQLAlchemy's pysqlite dialect reads from the query (anything else it ignores with a warning).
_PYSQLITE = frozenset({"uri", "timeout", "isolation_level", "detect_types", "check_same_thread", "cached_statements"})
# SQLAlchemy's MySQL dialects fold these into the driver's ``ssl`` argument.
_MYSQL_SSL = frozenset({"ssl_ca", "ssl_key", "ssl_cert", "ssl_capath", "ssl_cipher", "ssl_check_hostname"})


def driver_options(target: str, query: Mapping[str, Any]) -> frozenset[str] | None:
    """The query options the driver behind ``target`` accepts; None when it cannot be told.

    The driver is asked without connecting (libpq's keyword list, pymysql's arguments);
    a driver that is not installed, or another than the one queuekit-sql ships, is not
    second-guessed: it is left to reject what it does not know.
    """
    if target == "sqlite+pysqlite":
        uri = str(query.get("uri", "")).lower() in ("1", "true", "yes", "on")
        return _PYSQLITE | (_SQLITE_URI if uri else frozenset())
    try:
        if target == "postgresql+psycopg":
            import psycopg

            return frozenset(item.keyword.decode() for item in psycopg.pq.Conninfo.get_defaults())
        if target in ("mysql+pymysql", "mariadb+pymysql"):
            import inspect

            import pymysql  # type: ignore[import-untyped]

            names = inspect.signature(pymysql.connections.Connection.__init__).parameters
            return frozenset(names) - {"self", "conv", "cursorclass", "auth_plugin_map"} | _MYSQL_SSL
    except ImportError:
        return None
    return None


def _defaults(family: str) -> dict[str, Any]:
    return {"poll_max": 1.0 if family == "postgresql" else 0.25}


def _apply(base: Settings, given: Mapping[str, Any]) -> Settings:
    values: dict[str, Any] = {}
    for key, raw in given.items():
        if key == "clock":
            if raw is not None and not callable(raw):
                raise ConfigurationError("clock must be a callable returning epoch seconds")
            values["clock"] = raw
        elif key == "prefix":
            values["prefix"] = _identifier("prefix", raw, PREFIX_PATTERN)
        elif key == "schema":
            values["schema"] = _identifier("schema", raw, SCHEMA_PATTERN) if raw else None
        elif key == "migrate":
            word = str(raw).lower()  # True/False as keyword options, "true"/"false" in the URL
            values["migrate"] = _choice("migrate", _MIGRATE_ALIASES.get(word, word), (*_MIGRATE, *_MIGRATE_ALIASES))
        elif key == "synchronous":
            values["synchronous"] = _choice("synchronous", raw, _SYNCHRONOUS)
        elif key == "timeout":
            values["busy_timeout"] = _number("timeout", raw, minimum=0.0)
        elif key == "read_timeout":
            values["read_timeout"] = _number("read_timeout", raw, minimum=0.5)
        elif key == "poll_max":
            values["poll_max"] = _number("poll_max", raw, minimum=0.001)
        elif key in ("pool_size", "max_overflow"):
            values[key] = int(_number(key, raw, minimum=1.0 if key == "pool_size" else 0.0))
        else:
            values[key] = _flag(key, raw)
    settings = Settings(**{**base.__dict__, **values})
    if settings.schema and settings.family == "sqlite":
        raise ConfigurationError("schema= is not supported on SQLite; use prefix= to share one database file")
    return settings


def _identifier(name: str, raw: object, pattern: re.Pattern[str]) -> str:
    if not isinstance(raw, str) or not pattern.match(raw):
        raise ConfigurationError(
            f"{name} {str(raw)[:80]!r} is not allowed: use lower-case letters, digits and '_' "
            f"(pattern {pattern.pattern})"
        )
    return raw


def _choice(name: str, raw: object, allowed: tuple[str, ...]) -> str:
    value = str(raw).lower()
    if value not in allowed:
        raise ConfigurationError(f"{name}={str(raw)[:40]!r} is not one of {', '.join(allowed)}")
    return value


def _number(name: str, raw: object, minimum: float) -> float:
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} must be a number, got {str(raw)[:40]!r}") from None
    if not value >= minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {value}")
    return value


def _flag(name: str, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    value = _BOOL.get(str(raw).lower())
    if value is None:
        raise ConfigurationError(f"{name} must be true or false, got {str(raw)[:40]!r}")
    return value


def process_clock() -> float:
    """SQLite's clock: this process's wall clock, in epoch seconds."""
    return time.time()
