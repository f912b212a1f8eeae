"""End to end on server brokers: Redis (Django on SQLite) and PostgreSQL (jobs in Django's own transaction)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from endtoend import Project, order_then_receipt

from queuekit.errors import UnknownSchemeError
from queuekit.registry import backend_class
from tests.support import service_unavailable

pytestmark = pytest.mark.service


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def _need(scheme: str, port: int, what: str) -> None:
    try:
        backend_class(f"{scheme}://127.0.0.1")
    except UnknownSchemeError:
        pytest.skip(f"capability not declared: no installed backend for {scheme}://")
    if not _reachable(port):
        service_unavailable(f"{what} on 127.0.0.1:{port}")


@pytest.fixture
def redis_project(tmp_path: Path) -> Iterator[Project]:
    _need("redis", 6379, "Redis")
    prefix = f"qkdj{uuid.uuid4().hex[:10]}"
    project = Project(database=f"sqlite:///{tmp_path / 'shop.sqlite3'}", broker=f"redis://127.0.0.1:6379/0?prefix={prefix}")
    yield project
    project.stop_all()
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=0)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def postgres_project() -> Iterator[Project]:
    _need("postgresql", 5432, "PostgreSQL")
    try:
        import psycopg
    except ImportError:
        service_unavailable("psycopg is not installed")
    name = f"qk_django_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    project = Project(database=url, broker=f"{url}?migrate=auto&prefix=jobs_", enqueue="in_transaction")
    try:
        yield project
    finally:
        project.stop_all()
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_redis_broker(redis_project: Project) -> None:
    order_then_receipt(redis_project)


def test_postgresql_broker_in_djangos_transaction(postgres_project: Project) -> None:
    order_then_receipt(postgres_project)


def test_postgresql_broker_on_commit(postgres_project: Project) -> None:
    postgres_project.enqueue = "on_commit"
    order_then_receipt(postgres_project)
