"""Connections and transactions: a SQLAlchemy engine's pool, driven through DB-API cursors.

SQLAlchemy supplies the driver, the pool, URL handling, disconnect detection and
statement compilation; the hot path then runs compiled SQL straight on pooled DB-API
cursors (measured about 4x faster than ``Connection.execute`` on SQLite and about 1.3x on
PostgreSQL for one-row writes; ``queuekit bench`` reports the broker's rates beside the raw
driver's, see docs/benchmarking.md).

Every connection is in driver autocommit mode. A write transaction is explicit:
``BEGIN IMMEDIATE`` on SQLite (the write lock is taken first, so ``busy_timeout``
applies and no read-to-write upgrade can fail), ``BEGIN`` / ``START TRANSACTION``
elsewhere. On PostgreSQL and MySQL a lone statement skips BEGIN/COMMIT: it is atomic
by itself and costs one round trip. Driver errors become queuekit errors; a dropped
connection is discarded and the operation retried once on a fresh one (every
operation is idempotent or fenced by its receipt), deadlocks a few times.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, TypeVar

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from queuekit.errors import BrokerError, ConnectionLost
from queuekit.retry import backoff_delay
from queuekit.urls import redact
from queuekit_sql.dialects import DIALECTS, Dialect
from queuekit_sql.options import CONNECT_TIMEOUT, Settings
from queuekit_sql.watchdog import Watchdog

log = logging.getLogger("queuekit.sql")

T = TypeVar("T")
Work = Callable[[Any], T]

_ATTEMPTS = 5
_RECYCLE = 3600.0  # seconds a spare connection is reused before it goes back to the pool (as pool_recycle)
_RETRY_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock (PostgreSQL)
_RETRY_MYSQL = {1213, 1205}  # deadlock, lock wait timeout


class Database:
    """A pool of connections to one database and the transaction discipline around it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dialect: Dialect = DIALECTS[settings.family]
        self.engine = _engine(settings)
        self.dbapi = self.engine.dialect.loaded_dbapi
        # One shared connection for :memory: (each connection would see its own database).
        self._serial: threading.RLock | None = threading.RLock() if settings.memory else None
        self._pid = os.getpid()
        # Connections kept checked out between operations, each with its cursor: a pool
        # checkout, checkin and a new cursor cost about 20 us, a tenth of a one-row commit.
        self._spare: collections.deque[_Held] = collections.deque()
        self._keep = 0 if settings.memory or settings.pre_ping else settings.pool_size
        # Set once a connection was made: a later failure to connect is a lost connection,
        # one before it is "could not connect" (the server was never reached).
        self._connected = False
        # psycopg has no read timeout of its own: a watchdog cuts a statement that waits too long
        # (pymysql's read_timeout does the same on MySQL).
        self._watchdog = Watchdog(settings.read_timeout, settings.redacted) if settings.family == "postgresql" else None

    @property
    def sa_dialect(self) -> Any:
        """The SQLAlchemy dialect (server version known after the first connection)."""
        return self.engine.dialect

    def close(self) -> None:
        """Close every pooled connection."""
        self._keep = 0  # a connection in use now goes back to the pool when done
        if self._watchdog is not None:
            self._watchdog.close()
        self._release_spare()
        self.engine.dispose()

    def _take(self) -> _Held:
        """A connection and its cursor: a spare one, else a fresh checkout from the pool."""
        while (held := self._pop_spare()) is not None:
            if time.monotonic() - held.since < _RECYCLE:
                return held
            _quietly(held.close)  # old: back to the pool, which recycles it
        raw = self.engine.raw_connection()
        try:
            return _Held(raw, raw.cursor(), time.monotonic())
        except BaseException:
            _quietly(raw.close)
            raise

    def _keep_or_return(self, held: _Held) -> None:
        if len(self._spare) < self._keep:
            self._spare.append(held)
        else:
            held.close()

    def _pop_spare(self) -> _Held | None:
        try:
            return self._spare.pop()  # the most recently used first
        except IndexError:
            return None

    def _release_spare(self) -> None:
        while (held := self._pop_spare()) is not None:
            _quietly(held.close)

    # -- running work ----------------------------------------------------------------------

    def write(self, work: Work[T], *, single: bool = False, what: str = "write", long: bool = False) -> T:
        """Run ``work(cursor)`` in one write transaction; ``single``: it is one statement.

        ``long``: the work may legitimately outlast ``read_timeout`` (vacuum, schema upgrades,
        purges) and is not cut by the watchdog.
        """
        bare = single and self.dialect.autocommit_single
        return self._run(work, None if bare else self.dialect.begin, what, long)

    def read(self, work: Work[T], *, what: str = "read", long: bool = False) -> T:
        """Run read-only ``work(cursor)`` (each statement sees committed data); ``long`` as for :meth:`write`."""
        return self._run(work, None, what, long)

    def _run(self, work: Work[T], begin: str | None, what: str, long: bool = False) -> T:
        dropped = False
        for attempt in range(1, _ATTEMPTS + 1):
            started = time.monotonic()
            with self._serial or nullcontext():
                try:
                    return self._once(work, begin, what, long)
                except _Retry as exc:
                    failure = exc
            if self.dialect.family == "sqlite" and time.monotonic() - started >= self.settings.busy_timeout:
                raise self._error(what, failure.cause) from None  # busy_timeout already waited it out
            if failure.dropped:
                # A connection that could not be made is not tried again at once: a server that
                # refuses or stays silent now does the same a moment later (the bound stays one wait).
                if dropped or failure.connecting:
                    raise self._lost(what, failure.cause, connecting=failure.connecting) from None
                dropped = True
                continue
            if attempt == _ATTEMPTS:
                raise self._error(what, failure.cause) from None
            time.sleep(backoff_delay(attempt, 0.01, 0.2))
        raise AssertionError("unreachable")

    def _once(self, work: Work[T], begin: str | None, what: str, long: bool = False) -> T:
        if self._pid != os.getpid():  # forked: the parent's connections are not ours to use
            self._pid = os.getpid()
            self._spare = collections.deque()
            self.engine.dispose(close=False)
        try:
            held = self._take()
        except (DBAPIError, self.dbapi.Error) as exc:
            cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
            raise _Retry(cause, dropped=not self.retryable(cause), connecting=True) from None
        self._connected = True
        raw, cursor = held.raw, held.cursor
        dog = None if long else self._watchdog
        watch = dog.watching(lambda: raw.dbapi_connection.pgconn.socket) if dog is not None else nullcontext()
        seen = None
        try:
            with watch as seen:
                if begin:
                    cursor.execute(begin)
                result = work(cursor)
                if begin:
                    cursor.execute("COMMIT")
        except Exception as exc:
            driver_error = isinstance(exc, self.dbapi.Error)
            dialect = self.engine.dialect  # isinstance again, inline: mypy narrows exc only there
            if isinstance(exc, self.dbapi.Error) and dialect.is_disconnect(exc, raw.dbapi_connection, cursor):
                raw.invalidate(exc)
                _quietly(held.close)  # the invalidated connection goes back to the pool, which replaces it
                self._discard_idle()
                raise _Retry(exc, dropped=True, silent=seen is not None and seen.cut) from None
            _rollback(cursor, begin)
            _quietly(held.close)  # never kept as a spare after a failure
            if not driver_error:
                raise
            if self.retryable(exc):
                raise _Retry(exc, dropped=False) from None
            raise self._error(what, exc) from None
        self._keep_or_return(held)
        return result

    def _discard_idle(self) -> None:
        """After a dropped connection, the idle ones are likely dead too (server restart)."""
        if not self.settings.memory:
            self._release_spare()
            self.engine.dispose(close=True)

    def retryable(self, exc: BaseException) -> bool:
        """Deadlocks, serialization failures and SQLite's "locked" after busy_timeout."""
        sqlstate = getattr(exc, "sqlstate", None)
        if sqlstate in _RETRY_SQLSTATES:
            return True
        args = getattr(exc, "args", ())
        if self.dialect.family == "mysql" and args and args[0] in _RETRY_MYSQL:
            return True
        return self.dialect.family == "sqlite" and "locked" in str(exc).lower()

    # -- errors ----------------------------------------------------------------------------

    def _lost(self, what: str, exc: BaseException, *, connecting: bool = False) -> ConnectionLost:
        """A connection failure: could not connect (none was ever made), else lost the connection."""
        where = self.settings.redacted
        bounds = self._bounds() if _timed_out(exc) else ""
        if connecting and not self._connected:
            return ConnectionLost(f"could not connect to {where}: {_message(exc)}{bounds}")
        again = " and could not reconnect" if connecting else ""
        return ConnectionLost(f"{what} failed: lost the connection to {where}{again}: {_message(exc)}{bounds}")

    def _bounds(self) -> str:
        """What bounds a wait on this server, and where to change it (said when a wait ran out)."""
        connect = self.settings.url.query.get("connect_timeout", CONNECT_TIMEOUT)
        return (f" (no answer in time: the URL options connect_timeout={connect}s and "
                f"read_timeout={self.settings.read_timeout:g}s bound each wait)")

    def _error(self, what: str, exc: BaseException) -> BrokerError:
        if self.dialect.family == "sqlite" and "locked" in str(exc).lower():
            return BrokerError(
                f"{what} failed: SQLite database {self.settings.redacted} stayed locked by another writer "
                f"for more than timeout={self.settings.busy_timeout:g}s"
            )
        hint = ""
        if _missing_table(exc):
            hint = "; is the schema there? run: queuekit sql migrate URL"
        return BrokerError(f"{what} failed on {self.settings.redacted}: {_message(exc)}{hint}")

    def translate(self, exc: BaseException, what: str) -> BrokerError:
        """A driver error raised on a caller's connection, as a queuekit error."""
        orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        connection_error = isinstance(orig, getattr(self.dbapi, "OperationalError", ())) and not self.retryable(orig)
        if (isinstance(exc, DBAPIError) and exc.connection_invalidated) or connection_error:
            return self._lost(what, orig)
        return self._error(what, orig)


class _Held:
    """A connection checked out of the pool with its cursor, and since when."""

    __slots__ = ("cursor", "raw", "since")

    def __init__(self, raw: Any, cursor: Any, since: float) -> None:
        self.raw = raw
        self.cursor = cursor
        self.since = since

    def close(self) -> None:
        """Close the cursor and give the connection back to the pool."""
        _quietly(self.cursor.close)
        self.raw.close()


class _Retry(Exception):
    def __init__(self, cause: BaseException, dropped: bool, connecting: bool = False, silent: bool = False) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.dropped = dropped
        self.connecting = connecting  # the failure was taking a connection, not using one
        self.silent = silent  # the watchdog cut the connection: no answer within read_timeout
        if silent:
            cause.add_note(_SILENT)


_SILENT = "no answer within read_timeout"


def _timed_out(exc: BaseException) -> bool:
    """A wait on the server that ran out (connect or read), as each driver words it."""
    text = f"{exc} {' '.join(getattr(exc, '__notes__', ()))}".lower()
    return "timed out" in text or "timeout expired" in text or _SILENT in text


def _rollback(cursor: Any, begin: str | None) -> None:
    if cursor is not None and begin:
        _quietly(lambda: cursor.execute("ROLLBACK"))


def _quietly(call: Callable[[], object]) -> None:
    try:
        call()
    except Exception as exc:  # cleanup of a connection that already failed
        log.debug("ignored during cleanup: %s", exc)


def _message(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return redact(text)[:500] or type(exc).__name__


def _missing_table(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text) or "doesn't exist" in text


def _engine(settings: Settings) -> Engine:
    kwargs: dict[str, Any] = {
        "isolation_level": "AUTOCOMMIT",  # transactions are explicit BEGIN ... COMMIT
        "pool_reset_on_return": None,  # every transaction ends itself; a reset would cost a round trip
        "pool_pre_ping": settings.pre_ping,
    }
    if settings.family == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": settings.busy_timeout}
        if settings.memory:
            kwargs["poolclass"] = StaticPool
        else:
            kwargs.update(pool_size=settings.pool_size, max_overflow=settings.max_overflow)
    else:
        # LIFO: the most recently used connection again, so a steady load keeps reusing one
        # server backend (warm caches, its prepared statements) and spare ones go idle.
        kwargs.update(pool_size=settings.pool_size, max_overflow=settings.max_overflow, pool_recycle=3600,
                      pool_use_lifo=True)
    if settings.family == "mysql":  # pymysql's own bounds; its read_timeout also covers the login handshake
        given = settings.url.query
        link = {"connect_timeout": CONNECT_TIMEOUT, "read_timeout": settings.read_timeout,
                "write_timeout": settings.read_timeout}
        kwargs["connect_args"] = {key: value for key, value in link.items() if key not in given}
    try:
        engine = sqlalchemy.create_engine(settings.url, **kwargs)
    except (ImportError, sqlalchemy.exc.ArgumentError) as exc:
        from queuekit.errors import ConfigurationError

        extra = {"postgresql": "postgresql", "mysql": "mysql"}.get(settings.family)
        hint = f'; install its driver: pip install "queuekit[{extra}]"' if extra else ""
        raise ConfigurationError(f"cannot open {settings.redacted}: {exc}{hint}") from None
    if settings.family == "sqlite":
        _sqlite_pragmas(engine, settings)
    if settings.family == "postgresql" and settings.plan_guard:
        _on_connect(engine, _PLAN_GUARD)
    if settings.family == "mysql":
        _on_connect(engine, _READ_COMMITTED)
    return engine


# Every statement of the broker is written for an index path. A queue table's statistics
# are stale by nature (a queue that was empty at the last ANALYZE receives a burst), and
# with them the planner picks a bitmap or sequential scan that reads the whole backlog to
# claim 32 rows, or to delete 32 acknowledged ones: measured 10-30x slower per call on a
# 20,000-job backlog. The pool's sessions belong to the broker alone, so they turn those
# plans off once, at connect (a statement that has no index path still runs, by seq scan).
_PLAN_GUARD = "SELECT set_config('enable_seqscan', 'off', false), set_config('enable_bitmapscan', 'off', false)"

# InnoDB's default REPEATABLE READ takes next-key (gap) locks on every range a claim's
# SELECT ... FOR UPDATE SKIP LOCKED walks, and inserts into those gaps then deadlock with
# it (seen with four producer processes and a worker claiming hundreds of rows at once).
# READ COMMITTED locks the claimed rows only; a locking read sees the latest committed
# rows at any level, so the claim means the same.
_READ_COMMITTED = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"


def _on_connect(engine: Engine, statement: str) -> None:
    """Run ``statement`` once on every new connection of the pool (the sessions are ours)."""

    @event.listens_for(engine, "connect")
    def configure(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()


def _sqlite_pragmas(engine: Engine, settings: Settings) -> None:
    @event.listens_for(engine, "connect")
    def configure(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(settings.busy_timeout * 1000)}")
            if not settings.memory and settings.migrate != "read":  # a reading command changes no file
                _wal(cursor, settings.busy_timeout)
            cursor.execute(f"PRAGMA synchronous = {settings.synchronous.upper()}")  # validated choice
        finally:
            cursor.close()


def _wal(cursor: Any, timeout: float) -> None:
    """Switch to WAL if the file is not in WAL yet (it stays so); wait while others hold locks."""
    cursor.execute("PRAGMA journal_mode")
    if str(cursor.fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as exc:  # the switch needs the file to itself: retry until busy_timeout
            if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
