"""Writing jobs: the insert itself, on the broker's pool or inside a caller's transaction.

``enqueue_in`` accepts a SQLAlchemy ``Connection`` (or ``Session``), or a DB-API
connection of the broker's own driver (``sqlite3``, ``psycopg``, ``pymysql``). The jobs
are written in the caller's open transaction and become visible to workers only when
the caller commits; a rollback removes them with everything else. Nothing here
commits, rolls back or closes the caller's connection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import sqlalchemy
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from queuekit.errors import CapabilityError
from queuekit_sql.base import rows
from queuekit_sql.records import Clock, KeyHolder
from queuekit_sql.statements import Statements, chunks

if TYPE_CHECKING:
    from queuekit_sql.broker import SQLBroker

ARRAY_ROWS = 10_000  # rows per array INSERT on PostgreSQL
_UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE unique_violation
# The columns of a PostgreSQL batch insert, each bound as one array named <column>_list.
ARRAY_COLUMNS = ("id", "queue", "priority", "state", "delay", "dedup_key", "body")
R = TypeVar("R")
_FAMILIES = {"sqlite": "sqlite", "postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql"}


class Runner(Protocol):
    """Runs the named statements somewhere: a pooled cursor or a caller's connection."""

    def rows(self, name: str, params: Mapping[str, Any], shape: Callable[..., R]) -> list[R]:
        """Execute and fetch all rows, each as a ``shape``."""
        ...

    def rows_in(self, name: str, placeholder: str, values: Sequence[Any], params: Mapping[str, Any],
                shape: Callable[..., R]) -> list[R]:
        """Execute with ``IN :placeholder`` matching any of ``values``; fetch all rows, each as a ``shape``."""
        ...

    def run(self, name: str, params: Mapping[str, Any]) -> None:
        """Execute once, reading nothing back."""
        ...

    def many(self, name: str, params: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per parameter set (batched by the driver)."""
        ...

    def arrays(self, name: str, params: Mapping[str, Any], **slots: str) -> None:
        """Execute once with list parameters bound as arrays (PostgreSQL); ``slots`` fill the block's code slots."""
        ...


class CursorRunner:
    """Compiled statements on a DB-API cursor of the broker's driver."""

    def __init__(self, cur: Any, sql: Statements) -> None:
        self.cur = cur
        self.sql = sql

    def rows(self, name: str, params: Mapping[str, Any], shape: Callable[..., R]) -> list[R]:
        return rows(self.cur, self.sql.get(name), params, shape)

    def rows_in(self, name: str, placeholder: str, values: Sequence[Any], params: Mapping[str, Any],
                shape: Callable[..., R]) -> list[R]:
        statement, merged = self.sql.listed(name, {placeholder: values}, params)
        return rows(self.cur, statement, merged, shape)

    def run(self, name: str, params: Mapping[str, Any]) -> None:
        statement = self.sql.get(name)
        self.cur.execute(statement.sql, statement.args(params))

    def many(self, name: str, params: Sequence[Mapping[str, Any]]) -> None:
        statement = self.sql.get(name)
        if len(params) == 1:
            self.cur.execute(statement.sql, statement.args(params[0]))
        else:
            self.cur.executemany(statement.sql, [statement.args(p) for p in params])

    def arrays(self, name: str, params: Mapping[str, Any], **slots: str) -> None:
        statement = self.sql.get(name, 1, **slots)
        self.cur.execute(statement.sql, statement.args(params))


class ConnectionRunner:
    """Statements on a caller's SQLAlchemy connection, compiled by SQLAlchemy for its dialect."""

    def __init__(self, connection: Connection, sql: Statements) -> None:
        self.connection = connection
        self.sql = sql

    def rows(self, name: str, params: Mapping[str, Any], shape: Callable[..., R]) -> list[R]:
        result = self.connection.execute(sqlalchemy.text(self.sql.render(name)), dict(params))
        return _shaped(result, shape)

    def rows_in(self, name: str, placeholder: str, values: Sequence[Any], params: Mapping[str, Any],
                shape: Callable[..., R]) -> list[R]:
        # IN :placeholder is SQLAlchemy's own spelling of an expanding parameter.
        statement = sqlalchemy.text(self.sql.render(name))
        statement = statement.bindparams(sqlalchemy.bindparam(placeholder, expanding=True))
        result = self.connection.execute(statement, {**params, placeholder: list(values)})
        return _shaped(result, shape)

    def run(self, name: str, params: Mapping[str, Any]) -> None:
        self.connection.execute(sqlalchemy.text(self.sql.render(name)), dict(params))

    def many(self, name: str, params: Sequence[Mapping[str, Any]]) -> None:
        self.connection.execute(sqlalchemy.text(self.sql.render(name)), [dict(p) for p in params])

    def arrays(self, name: str, params: Mapping[str, Any], **slots: str) -> None:
        self.connection.execute(sqlalchemy.text(self.sql.render(name, **slots)), dict(params))


def _shaped(result: Any, shape: Callable[..., R]) -> list[R]:
    """SQLAlchemy result rows as ``shape``, their columns checked against its fields by name."""
    columns = tuple(str(key).lower() for key in result.keys())  # noqa: SIM118 (a Result, not a dict)
    fields = getattr(shape, "_fields", columns)
    if columns != fields:
        raise RuntimeError(f"statement returns columns {columns}, read as {fields}")
    return [shape(*row) for row in result.fetchall()]


class TakenId(Exception):
    """A strict batch insert met a job id that is already there: write it again, tolerantly."""


def is_taken_id(exc: BaseException) -> bool:
    """A PostgreSQL unique violation: on an insert without dedup keys, the job id was there already."""
    return getattr(exc, "sqlstate", None) == _UNIQUE_VIOLATION


def insert_jobs(runner: Runner, sql: Statements, batch: list[dict[str, Any]], now: Mapping[str, Any],
                notify: bool, strict: bool = False) -> list[str]:
    """Insert rows; return each one's job id (the holder's, for a dedup key already held).

    ``strict`` (PostgreSQL batches without dedup keys, in a transaction of the broker's
    own): no ON CONFLICT clause; a job id already there raises :class:`TakenId`. A
    PostgreSQL batch wakes its queues' listeners in the insert statement itself.
    """
    notified = False
    if sql.dialect.family == "mysql" and len(batch) > 1:
        clock = float(runner.rows("clock", now, Clock)[0].clock)
        runner.many("insert_job_bound", [_bound(item, clock) for item in batch])
    elif sql.dialect.family == "postgresql" and len(batch) > 1:
        on_conflict = "" if strict else "ON CONFLICT DO NOTHING"
        wake = {"channel": sql.names.channel, "notify": notify}
        for chunk in chunks(batch, ARRAY_ROWS):
            arrays = {f"{column}_list": [item[column] for item in chunk] for column in ARRAY_COLUMNS}
            try:
                runner.arrays("insert_job_arrays", {**arrays, **now, **wake}, on_conflict=on_conflict)
            except Exception as exc:
                if strict and is_taken_id(exc):
                    raise TakenId() from None
                raise
        notified = True
    else:
        runner.many("insert_job", [{**item, **now} for item in batch])
    keys = [item["dedup_key"] for item in batch if item["dedup_key"]]
    holders: dict[str, str] = {}
    for chunk in chunks(keys):
        holders.update((row.dedup_key, row.id) for row in runner.rows_in("key_holders", "keys", chunk, {}, KeyHolder))
    if notify and not notified:
        for queue in sorted({item["queue"] for item in batch}):
            runner.run("notify", {"channel": sql.names.channel, "queue": queue})
    return [holders.get(item["dedup_key"], item["id"]) if item["dedup_key"] else item["id"] for item in batch]


def one_statement(family: str, count: int, keyed: bool, notify: bool) -> bool:
    """Whether :func:`insert_jobs` writes ``count`` jobs (``keyed``: some with a dedup key) in one
    statement, which then needs no transaction."""
    if keyed:
        return False  # the key holders are read after the insert
    if family == "postgresql" and 1 < count <= ARRAY_ROWS:
        return True  # one array insert that notifies too
    return count == 1 and not notify


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
