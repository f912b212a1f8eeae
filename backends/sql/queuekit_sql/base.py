"""State shared by the broker's parts: the database, the statements and the clock."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from itertools import starmap
from typing import Any, TypeVar

from queuekit.broker import Delivery
from queuekit_sql.database import Database
from queuekit_sql.statements import Compiled, Statements, chunks

Clock = Callable[[], float]
MAX_NAME = 255  # characters in a queue name or job id (the column width on MySQL)
INT64 = (-(2**63), 2**63 - 1)
R = TypeVar("R")


class BrokerBase:
    """What every part of the SQL broker reads: set up once by :class:`SQLBroker`."""

    _db: Database
    _sql: Statements
    _clock: Clock

    def _params(self, **values: Any) -> dict[str, Any]:
        """Statement parameters, with ``now`` from the client clock where it is the clock."""
        if self._sql.client_clock:
            values["now"] = self._clock()
        return values

    def _listed(
        self, cur: Any, name: str, placeholder: str, values: Sequence[Any], params: Mapping[str, Any],
        shape: Callable[..., R] | None = None,
    ) -> list[R]:
        """Run block ``name`` once per ``list_limit`` of ``values`` (its ``IN :placeholder``), rows as ``shape``."""
        found: list[R] = []
        for chunk in chunks(values, self._sql.list_limit):
            statement, merged = self._sql.listed(name, {placeholder: chunk}, params)
            found.extend(_read(cur, statement, merged, shape))
        return found

    def _held(
        self, cur: Any, name: str, deliveries: Sequence[Delivery], params: Mapping[str, Any],
        shape: Callable[..., R] | None = None,
    ) -> list[R]:
        """Run block ``name`` (with ``IN :ids`` / ``IN :tags``) over held deliveries, ``list_limit`` per statement."""
        found: list[R] = []
        for chunk in chunks(deliveries, self._sql.list_limit):
            statement, merged = self._sql.listed(name, held_lists(chunk), params)
            found.extend(_read(cur, statement, merged, shape))
        return found


def held_lists(deliveries: Sequence[Delivery]) -> dict[str, list[str]]:
    """The ``ids`` and ``tags`` lists that match exactly these (id, receipt) pairs."""
    return {"ids": [d.id for d in deliveries], "tags": [d.receipt + d.id for d in deliveries]}


def run(cur: Any, statement: Compiled, params: Mapping[str, Any]) -> Any:
    """Execute one compiled statement on a DB-API cursor."""
    cur.execute(statement.sql, statement.args(params))
    return cur


def rows(cur: Any, statement: Compiled, params: Mapping[str, Any], shape: Callable[..., R]) -> list[R]:
    """Execute and fetch every row, each as a ``shape`` (a named tuple of the statement's columns)."""
    cur.execute(statement.sql, statement.args(params))
    return shaped(cur, statement, shape)


def shaped(cur: Any, statement: Compiled, shape: Callable[..., R]) -> list[R]:
    """The cursor's rows as ``shape``; the first time, its columns are checked against the fields by name."""
    found = cur.fetchall()
    if statement.shape is not shape:
        statement.check(cur.description, shape)
    return list(starmap(shape, found))


def _read(cur: Any, statement: Compiled, params: Mapping[str, Any], shape: Callable[..., R] | None) -> list[R]:
    cur.execute(statement.sql, statement.args(params))
    return shaped(cur, statement, shape) if shape is not None else []


def digest_key(key: str) -> str:
    """A dedup key as stored: its SHA-256, so keys of any length fit one unique index."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def as_bytes(value: Any) -> bytes:
    """A BLOB/BYTEA column value as bytes, whatever the driver returned."""
    return value if isinstance(value, bytes) else bytes(value)


def wall_clock() -> float:
    """The default client clock (SQLite)."""
    return time.time()
