"""Opening for a command that only reads (``create=False``): nothing is ever created or changed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from queuekit_sql import SQLBroker

from queuekit.broker import Envelope, QueueStats
from queuekit.errors import BrokerError, ConfigurationError
from queuekit.registry import open_broker
from queuekit.urls import CREATE


def test_a_missing_sqlite_file_is_named_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    with pytest.raises(BrokerError, match=r"no SQLite database at .*jobs\.db: nothing was enqueued there") as caught:
        open_broker(f"sqlite:///{path}", **{CREATE: False})
    assert "\n" not in str(caught.value)
    assert not path.exists()


def test_a_sqlite_file_without_the_tables_is_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "app.db"  # the application's own database, say
    with sqlite3.connect(path) as own:
        own.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    with pytest.raises(BrokerError, match=r"no queuekit tables \(prefix 'queuekit_'\) in .*app\.db"):
        open_broker(f"sqlite:///{path}", **{CREATE: False})
    with sqlite3.connect(path) as own:
        tables = [row[0] for row in own.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        mode = own.execute("PRAGMA journal_mode").fetchone()[0]
    assert tables == ["orders"]
    assert mode == "delete"  # not switched to WAL by a reader


def test_missing_tables_are_named_and_not_created(db_url: str) -> None:
    with pytest.raises(BrokerError, match=r"no (queuekit tables|SQLite database) .*: nothing was enqueued there"):
        open_broker(db_url, **{CREATE: False})
    with pytest.raises(ConfigurationError, match=r"are missing"):  # the reader created nothing
        SQLBroker.from_url(db_url + ("&" if "?" in db_url else "?") + "migrate=false")


def test_existing_tables_are_read_as_they_are(db_url: str) -> None:
    writer = SQLBroker.from_url(db_url)
    try:
        writer.enqueue([Envelope("one", "reading", b"{}")])
    finally:
        writer.close()
    reader = open_broker(db_url, **{CREATE: False})
    try:
        assert reader.stats(["reading"]) == {"reading": QueueStats(ready=1)}
        assert reader.stats() == {"reading": QueueStats(ready=1)}
    finally:
        reader.close()
