"""Raw baselines for PostgreSQL (psycopg 3) and MySQL/MariaDB (PyMySQL)."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from typing import Any
from urllib.parse import unquote, urlsplit

from queuekit_bench.raw import require
from queuekit_bench.raw.embedded import table_name


def _plain(url: str) -> str:
    """``postgresql+psycopg://...`` -> ``postgresql://...``."""
    scheme, _, rest = url.partition("://")
    return scheme.split("+", 1)[0] + "://" + rest


class PostgresQueue:
    """A table: INSERT; DELETE the oldest row with FOR UPDATE SKIP LOCKED, RETURNING it."""

    def __init__(self, url: str, name: str) -> None:
        self.client = require("psycopg", "psycopg", "psycopg")
        psycopg: Any = import_module("psycopg")
        self._db = psycopg.connect(_plain(url).split("?", 1)[0], autocommit=True)
        self.table = table_name(name)
        self._db.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (id bigserial PRIMARY KEY, body bytea NOT NULL)")

    def push(self, bodies: Sequence[bytes]) -> None:
        """One body: one INSERT (autocommit, one round trip). Several: executemany in one transaction."""
        if len(bodies) == 1:
            self._db.execute(f"INSERT INTO {self.table} (body) VALUES (%s)", (bodies[0],))
            return
        with self._db.transaction(), self._db.cursor() as cur:
            cur.executemany(f"INSERT INTO {self.table} (body) VALUES (%s)", [(b,) for b in bodies])

    def pop_ack(self, limit: int) -> int:
        """Delete the oldest unlocked rows in one statement."""
        rows = self._db.execute(
            f"DELETE FROM {self.table} WHERE id IN (SELECT id FROM {self.table} ORDER BY id "
            "LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id", (limit,),
        ).fetchall()
        return len(rows)

    def purge(self) -> None:
        """Delete every row."""
        self._db.execute(f"DELETE FROM {self.table}")

    def close(self) -> None:
        """Drop the table and disconnect."""
        try:
            self._db.execute(f"DROP TABLE IF EXISTS {self.table}")
        finally:
            self._db.close()


class MysqlQueue:
    """An InnoDB table: INSERT; SELECT ... FOR UPDATE SKIP LOCKED then DELETE, in one transaction."""

    def __init__(self, url: str, name: str) -> None:
        self.client = require("pymysql", "PyMySQL", "PyMySQL")
        pymysql: Any = import_module("pymysql")
        parts = urlsplit(_plain(url))
        self._db = pymysql.connect(
            host=parts.hostname or "127.0.0.1", port=parts.port or 3306, user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""), database=parts.path.lstrip("/") or None, autocommit=True,
        )
        self.table = table_name(name)
        with self._db.cursor() as cur:
            cur.execute(f"CREATE TABLE IF NOT EXISTS {self.table} "
                        "(id BIGINT AUTO_INCREMENT PRIMARY KEY, body LONGBLOB NOT NULL) ENGINE=InnoDB")

    def push(self, bodies: Sequence[bytes]) -> None:
        """Insert the bodies (one multi-row INSERT)."""
        with self._db.cursor() as cur:
            cur.executemany(f"INSERT INTO {self.table} (body) VALUES (%s)", [(b,) for b in bodies])

    def pop_ack(self, limit: int) -> int:
        """Lock the oldest unlocked rows and delete them, in one transaction."""
        with self._db.cursor() as cur:
            self._db.begin()
            cur.execute(f"SELECT id FROM {self.table} ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED", (limit,))
            ids = [row[0] for row in cur.fetchall()]
            if ids:
                marks = ",".join(["%s"] * len(ids))
                cur.execute(f"DELETE FROM {self.table} WHERE id IN ({marks})", ids)
            self._db.commit()
        return len(ids)

    def purge(self) -> None:
        """Delete every row."""
        with self._db.cursor() as cur:
            cur.execute(f"DELETE FROM {self.table}")

    def close(self) -> None:
        """Drop the table and disconnect."""
        try:
            with self._db.cursor() as cur:
                cur.execute(f"DROP TABLE IF EXISTS {self.table}")
        finally:
            self._db.close()
