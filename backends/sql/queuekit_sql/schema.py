"""Numbered migrations kept as SQL files, and the runner that applies them.

``migrations/<family>/NNNN_name.sql`` holds one schema version per file; the version
table records what was applied. Upgrades are serialised between processes: SQLite by
its write lock, PostgreSQL by a transaction-scoped advisory lock (DDL there is
transactional, so a failed upgrade leaves nothing behind), MySQL/MariaDB by
``GET_LOCK`` (DDL commits as it goes there, so every statement is idempotent).
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

import sqlalchemy

from queuekit.errors import BrokerError, ConfigurationError
from queuekit_sql.database import Database
from queuekit_sql.dialects import collation
from queuekit_sql.options import ANOTHER_URL
from queuekit_sql.statements import Names

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_SPLIT = re.compile(r";\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Migration:
    """One schema version: its number, name and statements (placeholders unfilled)."""

    version: int
    name: str
    sql: str

    def statements(self, fill: dict[str, str]) -> list[str]:
        """The file's statements with table names filled in, comments kept."""
        parts = [part.strip() for part in _SPLIT.split(self.sql.format(**fill))]
        return [part for part in parts if _has_code(part)]


def _has_code(part: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in part.splitlines())


def migrations(family: str) -> list[Migration]:
    """Every migration shipped for a database family, in version order."""
    folder = resources.files("queuekit_sql") / "migrations" / family
    found = []
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


class Migrator:
    """Reads and upgrades the schema version of one set of queuekit tables."""

    def __init__(self, db: Database, names: Names) -> None:
        self.db = db
        self.names = names
        self.family = db.dialect.family
        self.available = migrations(self.family)
        self.latest = self.available[-1].version

    def current(self) -> int | None:
        """The applied version, or None when the tables are not there."""
        settings = self.db.settings
        table = f"{settings.prefix}schema_version"
        try:
            with self.db.engine.connect() as connection:
                if not sqlalchemy.inspect(connection).has_table(table, schema=settings.schema):
                    return None
        except sqlalchemy.exc.DBAPIError as exc:
            raise self.db.translate(exc, "reading the schema version") from None
        rows = self.db.read(lambda cur: _fetch(cur, f"SELECT MAX(version) FROM {self.names.versions}"))
        value = rows[0][0] if rows else None
        return int(value) if value is not None else 0

    def ensure(self, mode: str) -> None:
        """``auto``: apply what is missing; ``check``: refuse a missing or old schema."""
        current = self.current()
        if current is not None and current > self.latest:
            raise ConfigurationError(
                f"the queuekit tables in {self.db.settings.redacted} are at schema version {current}, "
                f"newer than this queuekit ({self.latest}); upgrade it: pip install --upgrade queuekit"
            )
        if current == self.latest:
            return
        if mode == "auto":
            self.upgrade()
            return
        if mode == "read" and current is None:  # create=False: a command that only reads
            raise BrokerError(
                f"no queuekit tables (prefix {self.db.settings.prefix!r}) in {self.db.settings.redacted}: nothing was "
                f"enqueued there ({ANOTHER_URL})"
            )
        state = "missing" if current is None else f"at schema version {current}, need {self.latest}"
        raise ConfigurationError(
            f"the queuekit tables in {self.db.settings.redacted} are {state}: "
            "run `queuekit sql migrate URL` (or drop migrate=false from the URL to create them on first use)"
        )

    def upgrade(self) -> list[int]:
        """Apply every missing migration; return the versions applied (possibly none)."""
        if self.family == "mysql":
            return self.db.read(self._upgrade_mysql, what="schema upgrade", long=True)
        return self.db.write(self._upgrade_locked, what="schema upgrade", long=True)

    def _upgrade_locked(self, cur: Any) -> list[int]:
        if self.family == "postgresql":
            key = int.from_bytes(hashlib.sha256(self.names.channel.encode()).digest()[:8], "big", signed=True)
            cur.execute(f"SELECT pg_advisory_xact_lock({key:d})")  # an int we computed, not input
            if self.db.settings.schema:
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {self.names.versions.split('.')[0]}")
        return self._apply(cur)

    def _upgrade_mysql(self, cur: Any) -> list[int]:
        lock = self.names.channel
        cur.execute("SELECT GET_LOCK(%s, 120)", (lock,))
        if cur.fetchall()[0][0] != 1:
            raise ConfigurationError("another process held the schema upgrade lock for 120 s")
        try:
            if self.db.settings.schema:
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {self.names.versions.split('.')[0]}")
            return self._apply(cur)
        finally:
            cur.execute("SELECT RELEASE_LOCK(%s)", (lock,))
            cur.fetchall()

    def _apply(self, cur: Any) -> list[int]:
        double = self.db.dialect.double
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.names.versions} "
            f"(version INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL, applied_at {double} NOT NULL)"
        )
        cur.execute(f"SELECT MAX(version) FROM {self.names.versions}")
        current = cur.fetchall()[0][0] or 0
        fill = {
            "jobs": self.names.jobs, "dead": self.names.dead, "results": self.names.results, "kv": self.names.kv,
            "kv_members": self.names.kv_members,
            "collation": collation(self.db.sa_dialect) if self.family == "mysql" else "",
            **self.names.indexes,
        }
        applied = []
        insert = f"INSERT INTO {self.names.versions} (version, name, applied_at) VALUES ({{0}}, '{{1}}', {{2}})"
        for migration in self.available:
            if migration.version <= current:
                continue
            for statement in migration.statements(fill):
                cur.execute(statement)
            # version and name come from our own file names (digits, [a-z0-9_]): not input
            cur.execute(insert.format(migration.version, migration.name, repr(time.time())))
            applied.append(migration.version)
        return applied


def _fetch(cur: Any, sql: str) -> list[Any]:
    cur.execute(sql)
    return list(cur.fetchall())
