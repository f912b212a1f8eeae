"""Fixtures for the SQL backend tests: a database URL of the test's own on each server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sql.servers import drop_prefix, unique_prefix, url_or_skip, with_prefix

KINDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.service),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.service),
]


def _url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.db'}"
        return
    prefix = unique_prefix()
    yield with_prefix(url_or_skip(kind), prefix)
    drop_prefix(kind, prefix)


@pytest.fixture(params=KINDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL with tables of this test's own, on SQLite, PostgreSQL and MariaDB in turn."""
    yield from _url(request.param, tmp_path)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file of this test's own."""
    return f"sqlite:///{tmp_path / 'jobs.db'}"


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    """PostgreSQL tables of this test's own."""
    yield from _url("postgresql", tmp_path)


@pytest.fixture
def mariadb_url(tmp_path: Path) -> Iterator[str]:
    """MariaDB tables of this test's own."""
    yield from _url("mariadb", tmp_path)
