"""Writing jobs: the insert itself, on the broker's pool or inside a caller's transaction.

``enqueue_in`` accepts a SQLAlchemy ``Connection`` (or ``Session``), or a DB-API
connection of the broker's own driver (``sqlite3``, ``psycopg``, ``pymysql``). The jobs
are written in the caller's open transaction and become visible to workers only when
the caller commits; a rollback removes them with everything else. Nothing here
commits, rolls back or closes the caller's connection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from queuekit.errors import CapabilityError
from queuekit_sql import statements as S
from queuekit_sql.statements import Statements, chunks

if TYPE_CHECKING:
    from queuekit_sql.broker import SQLBroker

_ARRAY_ROWS = 10_000  # rows per array INSERT on PostgreSQL
_UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE unique_violation
_FAMILIES = {"sqlite": "sqlite", "postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql"}


class Runner(Protocol):
    """Runs statement templates somewhere: a pooled cursor or a caller's connection."""

    def rows(self, template: str, params: Mapping[str, Any]) -> list[Any]:
        """Execute and fetch all rows."""
        ...

    def rows_in(self, template: str, placeholder: str, values: Sequence[Any], params: Mapping[str, Any]) -> list[Any]:
        """Execute with ``{placeholder}`` matching any of ``values``; fetch all rows."""
        ...

    def many(self, template: str, params: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per parameter set (batched by the driver)."""
        ...

    def arrays(self, template: str, params: Mapping[str, Any]) -> None:
        """Execute once with list parameters bound as arrays (PostgreSQL)."""
        ...


class CursorRunner:
    """Compiled statements on a DB-API cursor of the broker's driver."""

    def __init__(self, cur: Any, sql: Statements) -> None:
        self.cur = cur
        self.sql = sql

    def rows(self, template: str, params: Mapping[str, Any]) -> list[Any]:
        statement = self.sql.get(template)
        self.cur.execute(statement.sql, statement.args(params))
        return list(self.cur.fetchall()) if self.cur.description else []

    def rows_in(self, template: str, placeholder: str, values: Sequence[Any], params: Mapping[str, Any]) -> list[Any]:
        statement, merged = self.sql.listed(template, placeholder, values, params)
        self.cur.execute(statement.sql, statement.args(merged))
        return list(self.cur.fetchall()) if self.cur.description else []

    def many(self, template: str, params: Sequence[Mapping[str, Any]]) -> None:
        statement = self.sql.get(template)
        if len(params) == 1:
            self.cur.execute(statement.sql, statement.args(params[0]))
        else:
            self.cur.executemany(statement.sql, [statement.args(p) for p in params])

    def arrays(self, template: str, params: Mapping[str, Any]) -> None:
        statement = self.sql.get_binary(template)
        self.cur.execute(statement.sql, statement.args(params))


class ConnectionRunner:
    """Statements on a caller's SQLAlchemy connection, compiled for its dialect."""

    def __init__(self, connection: Connection, sql: Statements) -> None:
        self.connection = connection
        self.sql = sql

    def rows(self, template: str, params: Mapping[str, Any]) -> list[Any]:
        result = self.connection.execute(sqlalchemy.text(self.sql.render(template)), dict(params))
        return list(result.fetchall()) if result.returns_rows else []

    def rows_in(self, template: str, placeholder: str, values: Sequence[Any], params: Mapping[str, Any]) -> list[Any]:
        statement = sqlalchemy.text(self.sql.render(template, **{placeholder: "IN :vals"}))
        statement = statement.bindparams(sqlalchemy.bindparam("vals", expanding=True))
        result = self.connection.execute(statement, {**params, "vals": list(values)})
        return list(result.fetchall()) if result.returns_rows else []

    def many(self, template: str, params: Sequence[Mapping[str, Any]]) -> None:
        self.connection.execute(sqlalchemy.text(self.sql.render(template)), [dict(p) for p in params])

    def arrays(self, template: str, params: Mapping[str, Any]) -> None:
        self.connection.execute(sqlalchemy.text(self.sql.render(template)), dict(params))


class TakenId(Exception):
    """A strict batch insert met a job id that is already there: write it again, tolerantly."""


def is_taken_id(exc: BaseException) -> bool:
    """A PostgreSQL unique violation: on an insert without dedup keys, the job id was there already."""
    return getattr(exc, "sqlstate", None) == _UNIQUE_VIOLATION


def insert_jobs(runner: Runner, sql: Statements, batch: list[dict[str, Any]], now: Mapping[str, Any],
                notify: bool, strict: bool = False) -> list[str]:
    """Insert rows; return each one's job id (the holder's, for a dedup key already held).

    ``strict`` (PostgreSQL batches without dedup keys, in a transaction of the broker's
    own): no ON CONFLICT clause; a job id already there raises :class:`TakenId`.
    """
    if sql.dialect.family == "mysql" and len(batch) > 1:
        clock = float(runner.rows(S.CLOCK, now)[0][0])
        runner.many(S.INSERT_JOB_BOUND, [_bound(item, clock) for item in batch])
    elif sql.dialect.family == "postgresql" and len(batch) > 1:
        template = S.INSERT_JOB_ARRAYS_STRICT if strict else S.INSERT_JOB_ARRAYS
        for chunk in chunks(batch, _ARRAY_ROWS):
            arrays = {f"{column}_list": [item[column] for item in chunk] for column in S.ARRAY_COLUMNS}
            try:
                runner.arrays(template, {**arrays, **now})
            except Exception as exc:
                if strict and is_taken_id(exc):
                    raise TakenId() from None
                raise
    else:
        runner.many(S.INSERT_JOB, [{**item, **now} for item in batch])
    keys = [item["dedup_key"] for item in batch if item["dedup_key"]]
    holders: dict[str, str] = {}
    for chunk in chunks(keys):
        holders.update((key, job_id) for key, job_id in runner.rows_in(S.KEY_HOLDERS, "keys", chunk, {}))
    if notify:
        for queue in sorted({item["queue"] for item in batch}):
            runner.rows(S.NOTIFY, {"channel": sql.names.channel, "queue": queue})
    return [holders.get(item["dedup_key"], item["id"]) if item["dedup_key"] else item["id"] for item in batch]


def _bound(item: Mapping[str, Any], clock: float) -> dict[str, Any]:
    delay = item["delay"]
    return {**item, "due": clock + delay, "wake_at": clock + delay if delay > 0 else None,
            "enqueued_at": clock, "attempts": 0}


def enqueue_in(broker: SQLBroker, connection: Any, batch: list[dict[str, Any]]) -> list[str]:
    """Insert ``batch`` inside the caller's open transaction on ``connection``."""
    if not batch:
        return []
    family = broker.settings.family
    if hasattr(connection, "get_bind") and callable(getattr(connection, "connection", None)):
        connection = connection.connection()  # an ORM Session: its connection in its transaction
    if isinstance(connection, Connection):
        theirs = _FAMILIES.get(connection.dialect.name)
        if theirs != family:
            raise CapabilityError(f"connection is {connection.dialect.name}, the broker is {family}: "
                                  "transactional enqueue needs the same database")
        _require_transaction(connection.connection.dbapi_connection)
        runner: Runner = ConnectionRunner(connection, broker._sql)
    else:
        expected = broker._db.dbapi.__name__.split(".")[0]
        if type(connection).__module__.split(".")[0] != expected:
            raise CapabilityError(
                f"enqueue_in needs a SQLAlchemy Connection/Session or a {expected} connection, "
                f"got {type(connection).__module__}.{type(connection).__name__}"
            )
        _require_transaction(connection)
        runner = CursorRunner(connection.cursor(), broker._sql)
    try:
        return insert_jobs(runner, broker._sql, batch, broker._params(), broker._notify)
    except (DBAPIError, broker._db.dbapi.Error) as exc:
        raise broker._db.translate(exc, "enqueue in transaction") from None
    finally:
        if isinstance(runner, CursorRunner):
            runner.cur.close()


def _require_transaction(conn: Any) -> None:
    """Refuse a connection in autocommit mode with no open transaction: the jobs would commit alone."""
    if _autocommitting(conn):
        raise CapabilityError(
            "the connection is in autocommit mode with no open transaction, so the jobs would be committed "
            "on their own; open a transaction first (BEGIN, conn.transaction(), or a non-autocommit connection)"
        )


def _autocommitting(conn: Any) -> bool:
    """True when the connection autocommits each statement and no transaction is open now."""
    if hasattr(conn, "in_transaction") and hasattr(conn, "isolation_level"):  # sqlite3
        return conn.isolation_level is None and not conn.in_transaction
    status = getattr(getattr(conn, "info", None), "transaction_status", None)
    if status is not None:  # psycopg 3
        idle = status == 0  # psycopg.pq.TransactionStatus.IDLE
        return bool(conn.autocommit) and idle
    if hasattr(conn, "get_autocommit") and hasattr(conn, "server_status"):  # PyMySQL
        in_trans = bool(conn.server_status & 1)  # SERVER_STATUS_IN_TRANS
        return bool(conn.get_autocommit()) and not in_trans
    return False
