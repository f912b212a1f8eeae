"""What the run ran on: Python, queuekit, client libraries, servers, CPUs and load."""

from __future__ import annotations

import os
import platform
import sqlite3
from importlib import import_module
from importlib.metadata import PackageNotFoundError, distributions, version
from typing import Any
from urllib.parse import unquote, urlsplit

from queuekit.urls import scheme_of

CLIENT_LIBRARIES = ("redis", "hiredis", "pika", "psycopg", "PyMySQL", "mysqlclient", "SQLAlchemy", "kombu")


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def queuekit_distributions() -> dict[str, str]:
    """Every installed distribution named queuekit or queuekit-*, with its version."""
    found: dict[str, str] = {}
    for dist in distributions():
        name = dist.metadata["Name"] or ""
        if name.lower().startswith("queuekit"):
            found[name] = dist.version
    return dict(sorted(found.items()))


def describe_machine() -> dict[str, Any]:
    """Python, platform, CPU count, load average and library versions."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average": [round(v, 2) for v in load] if load else None,
        "sqlite": sqlite3.sqlite_version,
        "queuekit": queuekit_distributions(),
        "client_libraries": {name: v for name in CLIENT_LIBRARIES if (v := _version(name)) is not None},
    }


def server_version(url: str) -> str | None:
    """The server's own version string, asked with its raw client (None if it cannot be asked)."""
    try:
        return _ask_server(url)
    except Exception:  # a version is nice to have; never fail a run for it
        return None


def _ask_server(url: str) -> str | None:
    scheme = scheme_of(url).split("+", 1)[0]
    plain = scheme + "://" + url.partition("://")[2]
    if scheme == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    if scheme == "memory":
        return f"in-process (Python {platform.python_version()})"
    if scheme in ("redis", "rediss"):
        redis: Any = import_module("redis")
        client = redis.Redis.from_url(plain, socket_timeout=2)
        try:
            return f"Redis {client.info('server')['redis_version']}"
        finally:
            client.close()
    if scheme in ("postgresql", "postgres"):
        psycopg: Any = import_module("psycopg")
        with psycopg.connect(plain.split("?", 1)[0], connect_timeout=2) as conn:
            return f"PostgreSQL {conn.execute('SHOW server_version').fetchone()[0]}"
    if scheme in ("mysql", "mariadb"):
        return _mysql_version(plain)
    if scheme in ("amqp", "amqps"):
        pika: Any = import_module("pika")
        conn = pika.BlockingConnection(pika.URLParameters(plain))
        try:
            props = conn._impl.server_properties
            product = props.get("product", b"RabbitMQ")
            ver = props.get("version", b"?")
            return f"{_text(product)} {_text(ver)}"
        finally:
            conn.close()
    return None


def _mysql_version(url: str) -> str:
    pymysql: Any = import_module("pymysql")
    parts = urlsplit(url)
    conn = pymysql.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 3306,
                           user=unquote(parts.username or "root"), password=unquote(parts.password or ""),
                           connect_timeout=2)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            return f"MySQL/MariaDB {cur.fetchone()[0]}"
    finally:
        conn.close()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
