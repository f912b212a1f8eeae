"""State shared by the broker's parts: the database, the statements and the clock."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from queuekit.broker import Delivery
from queuekit_sql.database import Database
from queuekit_sql.statements import Compiled, Statements, padded

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

    def _pair_params(self, deliveries: list[Delivery], size: int, **values: Any) -> dict[str, Any]:
        """``:i0/:r0``... for (id, receipt) pairs, padded to ``size``."""
        params = self._params(**values)
        for n, delivery in enumerate(padded(deliveries, size)):
            params[f"i{n}"] = delivery.id
            params[f"r{n}"] = delivery.receipt
        return params

    @staticmethod
    def _list_params(values: list[Any], size: int, params: dict[str, Any]) -> dict[str, Any]:
        """``:v0``... for an IN list, padded to ``size``."""
        for n, value in enumerate(padded(values, size)):
            params[f"v{n}"] = value
        return params


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
