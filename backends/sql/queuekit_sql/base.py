"""State shared by the broker's parts: the database, the statements and the clock."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from queuekit.broker import Delivery
from queuekit_sql.database import Database
from queuekit_sql.statements import Compiled, Statements, chunks

Clock = Callable[[], float]
MAX_NAME = 255  # characters in a queue name or job id (the column width on MySQL)
INT64 = (-(2**63), 2**63 - 1)


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
        self, cur: Any, template: str, placeholder: str, values: list[Any], params: Mapping[str, Any]
    ) -> list[Any]:
        """Run ``template`` once per ``list_limit`` of ``values`` (bound to ``{placeholder}``); all rows fetched."""
        found: list[Any] = []
        for chunk in chunks(values, self._sql.list_limit):
            statement, merged = self._sql.listed(template, placeholder, chunk, params)
            cur.execute(statement.sql, statement.args(merged))
            if cur.description:
                found.extend(cur.fetchall())
        return found

    def _held(self, cur: Any, template: str, deliveries: Sequence[Delivery], params: Mapping[str, Any]) -> list[Any]:
        """Run ``template`` (with ``{ids}``/``{tags}``) over held deliveries, ``list_limit`` per statement."""
        found: list[Any] = []
        for chunk in chunks(deliveries, self._sql.list_limit):
            statement, merged = self._sql.listed_many(template, held_lists(chunk), params)
            cur.execute(statement.sql, statement.args(merged))
            if cur.description:
                found.extend(cur.fetchall())
        return found


def held_lists(deliveries: Sequence[Delivery]) -> dict[str, list[str]]:
    """The ``{ids}`` and ``{tags}`` lists that match exactly these (id, receipt) pairs."""
    return {"ids": [d.id for d in deliveries], "tags": [d.receipt + d.id for d in deliveries]}


def run(cur: Any, statement: Compiled, params: Mapping[str, Any]) -> Any:
    """Execute one compiled statement on a DB-API cursor."""
    cur.execute(statement.sql, statement.args(params))
    return cur


def rows(cur: Any, statement: Compiled, params: Mapping[str, Any]) -> list[Any]:
    """Execute and fetch every row."""
    cur.execute(statement.sql, statement.args(params))
    return list(cur.fetchall())


def digest_key(key: str) -> str:
    """A dedup key as stored: its SHA-256, so keys of any length fit one unique index."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def as_bytes(value: Any) -> bytes:
    """A BLOB/BYTEA column value as bytes, whatever the driver returned."""
    return value if isinstance(value, bytes) else bytes(value)


def wall_clock() -> float:
    """The default client clock (SQLite)."""
    return time.time()
