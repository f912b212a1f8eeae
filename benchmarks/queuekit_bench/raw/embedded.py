"""Raw baselines for the embedded backends: an in-process deque and the sqlite3 module."""

from __future__ import annotations

import collections
import platform
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

_NAME = re.compile(r"[^A-Za-z0-9_]")


def table_name(name: str) -> str:
    """A safe SQL identifier from a queue name (letters, digits and underscores only)."""
    return "qkbench_raw_" + _NAME.sub("_", name)[:48]


class DequeQueue:
    """``collections.deque``: the physical limit of an in-process queue."""

    client = f"collections.deque (Python {platform.python_version()})"

    def __init__(self) -> None:
        self._items: collections.deque[bytes] = collections.deque()

    def push(self, bodies: Sequence[bytes]) -> None:
        """Append the bodies."""
        self._items.extend(bodies)

    def pop_ack(self, limit: int) -> int:
        """Pop up to ``limit`` bodies from the left."""
        taken = 0
        while taken < limit and self._items:
            self._items.popleft()
            taken += 1
        return taken

    def purge(self) -> None:
        """Forget everything."""
        self._items.clear()

    def close(self) -> None:
        """Nothing to release."""
        self._items.clear()


class SqliteQueue:
    """A table in its own SQLite file (WAL, synchronous as the backend's durability): insert; delete oldest rows."""

    @property
    def client(self) -> str:
        """The library and its settings."""
        return f"sqlite3 (SQLite {sqlite3.sqlite_version}, synchronous={self.synchronous})"

    def __init__(self, path: Path, name: str, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self.table = table_name(name)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")  # one of four fixed words, checked by the caller
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")

    def push(self, bodies: Sequence[bytes]) -> None:
        """Insert the bodies in one transaction."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(f"INSERT INTO {self.table} (body) VALUES (?)", [(b,) for b in bodies])
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def pop_ack(self, limit: int) -> int:
        """Delete the oldest ``limit`` rows in one statement, returning them."""
        rows = self._db.execute(
            f"DELETE FROM {self.table} WHERE id IN (SELECT id FROM {self.table} ORDER BY id LIMIT ?) RETURNING id",
            (limit,),
        ).fetchall()
        return len(rows)

    def purge(self) -> None:
        """Delete every row."""
        self._db.execute(f"DELETE FROM {self.table}")

    def close(self) -> None:
        """Drop the table and close the connection."""
        try:
            self._db.execute(f"DROP TABLE IF EXISTS {self.table}")
        finally:
            self._db.close()
