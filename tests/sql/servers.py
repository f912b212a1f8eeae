"""The shared PostgreSQL and MariaDB servers for the SQL tests, and per-test table sets.

Every test gets its own table prefix (``qkt_<hex>_``) in database ``test``; the tables
are dropped afterwards. Tests skip with "service unavailable: ..." when a server does
not answer, which CI turns into a failure.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy

from tests.support import service_unavailable

POSTGRES_URL = os.environ.get("QUEUEKIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("QUEUEKIT_TEST_MARIADB_URL", "mariadb://root@127.0.0.1:3306/test")
URLS = {"postgresql": POSTGRES_URL, "mariadb": MARIADB_URL}
_DRIVERS = {"postgresql": "postgresql+psycopg", "mariadb": "mariadb+pymysql"}
_TABLES = ("jobs", "dead", "results", "kv", "kv_members", "schema_version")


def sa_url(kind: str) -> str:
    """The server's URL in SQLAlchemy's spelling (explicit driver)."""
    return sqlalchemy_url(URLS[kind])


def sqlalchemy_url(url: str) -> str:
    """A queuekit SQL URL in SQLAlchemy's spelling, for an engine of the caller's own (queuekit options dropped)."""
    base = url.split("?", 1)[0]
    for kind, driver in _DRIVERS.items():
        base = base.replace(f"{kind}://", f"{driver}://", 1)
    return base


@contextmanager
def transaction(url: str) -> Iterator[sqlalchemy.Connection]:
    """A connection of an engine of its own in an open transaction: committed at the end, rolled back on error."""
    engine = sqlalchemy.create_engine(sqlalchemy_url(url))
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def url_or_skip(kind: str) -> str:
    """The server's URL if it answers; otherwise skip the test."""
    engine = sqlalchemy.create_engine(sa_url(kind), connect_args=_connect_timeout(kind))
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception as exc:
        service_unavailable(f"{kind} at {URLS[kind]}: {type(exc).__name__}: {str(exc)[:200]}")
    finally:
        engine.dispose()
    return URLS[kind]


def _connect_timeout(kind: str) -> dict[str, int]:
    return {"connect_timeout": 3}


def unique_prefix() -> str:
    """A table prefix no other test run uses."""
    return f"qkt_{uuid.uuid4().hex[:10]}_"


def prefix_for(label: str) -> str:
    """A stable prefix for a label (a scratch directory), so reopening finds the same tables."""
    return "qkt_" + hashlib.sha1(label.encode()).hexdigest()[:10] + "_"


def drop_prefix(kind: str, prefix: str) -> None:
    """Drop the tables a test created under ``prefix``."""
    engine = sqlalchemy.create_engine(sa_url(kind))
    try:
        with engine.begin() as connection:
            for table in _TABLES:
                quoted = connection.dialect.identifier_preparer.quote_identifier(prefix + table)
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quoted}")
    finally:
        engine.dispose()


def with_prefix(url: str, prefix: str, **extra: str) -> str:
    """``url`` with queuekit's table prefix (and other options) in its query (tables created on first use)."""
    options = {"prefix": prefix, **extra}
    query = "&".join(f"{key}={value}" for key, value in options.items())
    return f"{url}{'&' if '?' in url else '?'}{query}"
