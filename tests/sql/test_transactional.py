"""Transactional enqueue: the job exists if and only if the caller's own rows commit."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy
from queuekit_sql import SQLBroker

from queuekit import App
from queuekit.errors import CapabilityError
from tests.sql.servers import sqlalchemy_url

ORDERS = "qkt_orders"


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    app = App(db_url)
    yield app
    app.close()


@pytest.fixture
def engine(app: App, db_url: str, unique: str) -> Iterator[sqlalchemy.Engine]:
    assert app.broker.capabilities.transactional_enqueue  # opened first (SQLite: created in WAL mode)
    engine = sqlalchemy.create_engine(sqlalchemy_url(db_url))
    table = f"{ORDERS}_{unique}"
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, note VARCHAR(50))")
    engine.table = table  # type: ignore[attr-defined]
    yield engine
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE {table}")
    engine.dispose()


def _register(app: App) -> Any:
    @app.task(queue="orders")
    def ship(order: int) -> int:
        return order

    return ship


def _queued(app: App) -> list[str]:
    deliveries = app.broker.reserve(["orders"], 100, 60)
    app.broker.ack(deliveries)
    return [d.id for d in deliveries]


def test_sqlalchemy_connection_commit_keeps_both(app: App, engine: Any) -> None:
    ship = _register(app)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"INSERT INTO {engine.table} (id, note) VALUES (1, 'paid')")
        job = ship.enqueue(args=(1,), connection=connection)
        assert app.broker.stats(["orders"])["orders"].ready == 0  # invisible until the caller commits
    assert _queued(app) == [job.id]


def test_sqlalchemy_connection_rollback_drops_both(app: App, engine: Any) -> None:
    ship = _register(app)
    with pytest.raises(RuntimeError, match="payment declined"), engine.begin() as connection:
        connection.exec_driver_sql(f"INSERT INTO {engine.table} (id, note) VALUES (2, 'pending')")
        ship.enqueue(args=(2,), connection=connection)
        raise RuntimeError("payment declined")
    assert _queued(app) == []
    with engine.connect() as connection:
        assert connection.exec_driver_sql(f"SELECT COUNT(*) FROM {engine.table}").scalar() == 0


def test_orm_session_is_accepted(app: App, engine: Any) -> None:
    from sqlalchemy.orm import Session

    ship = _register(app)
    with Session(engine) as session:
        jobs = app.enqueue_many([ship.message(3), ship.message(4)], connection=session)
        session.rollback()
    assert _queued(app) == []
    with Session(engine) as session:
        jobs = app.enqueue_many([ship.message(3), ship.message(4)], connection=session)
        session.commit()
    assert sorted(_queued(app)) == sorted(job.id for job in jobs)


def test_dedup_key_inside_a_transaction_returns_the_holder(app: App, engine: Any) -> None:
    ship = _register(app)
    first = ship.enqueue(args=(5,), key="order-5")
    with engine.begin() as connection:
        again = ship.enqueue(args=(5,), key="order-5", connection=connection)
    assert again.id == first.id
    assert _queued(app) == [first.id]


def test_autocommit_connection_is_refused(app: App, engine: Any) -> None:
    ship = _register(app)
    autocommit = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    with autocommit as connection, pytest.raises(CapabilityError, match="autocommit"):
        ship.enqueue(args=(6,), connection=connection)
    assert _queued(app) == []


def test_sqlite3_dbapi_connection_commit_and_rollback(sqlite_url: str, tmp_path: Any) -> None:
    app = App(sqlite_url)
    try:
        ship = _register(app)
        assert app.broker.capabilities.transactional_enqueue  # opens it and creates the schema
        conn = sqlite3.connect(tmp_path / "jobs.db")
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        conn.commit()
        conn.execute("INSERT INTO orders VALUES (1)")
        ship.enqueue(args=(1,), connection=conn)
        conn.rollback()
        assert _queued(app) == []
        conn.execute("INSERT INTO orders VALUES (2)")
        kept = ship.enqueue(args=(2,), connection=conn)
        conn.commit()
        assert _queued(app) == [kept.id]
        conn.isolation_level = None  # autocommit: the job would commit alone
        with pytest.raises(CapabilityError, match="autocommit"):
            ship.enqueue(args=(3,), connection=conn)
        conn.close()
    finally:
        app.close()


@pytest.mark.service
def test_psycopg_dbapi_connection_commit_and_rollback(pg_url: str) -> None:
    import psycopg

    app = App(pg_url)
    try:
        ship = _register(app)
        assert app.broker.capabilities.transactional_enqueue  # opens it and creates the schema
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=test") as conn:
            ship.enqueue(args=(1,), connection=conn)
            conn.rollback()
            assert _queued(app) == []
            kept = ship.enqueue(args=(2,), connection=conn)
            conn.commit()
            assert _queued(app) == [kept.id]
            conn.autocommit = True
            with pytest.raises(CapabilityError, match="autocommit"):
                ship.enqueue(args=(3,), connection=conn)
            with conn.transaction():
                inside = ship.enqueue(args=(4,), connection=conn)
            assert _queued(app) == [inside.id]
    finally:
        app.close()


@pytest.mark.service
def test_pymysql_dbapi_connection_commit_and_rollback(mariadb_url: str) -> None:
    import pymysql

    app = App(mariadb_url)
    try:
        ship = _register(app)
        assert app.broker.capabilities.transactional_enqueue
        conn = pymysql.connect(host="127.0.0.1", user="root", database="test")
        try:
            conn.begin()
            ship.enqueue(args=(1,), connection=conn)
            conn.rollback()
            assert _queued(app) == []
            conn.begin()
            kept = ship.enqueue(args=(2,), connection=conn)
            conn.commit()
            assert _queued(app) == [kept.id]
        finally:
            conn.close()
    finally:
        app.close()


def test_a_connection_of_another_driver_is_refused(sqlite_url: str) -> None:
    broker = SQLBroker.from_url(sqlite_url)
    try:
        with pytest.raises(CapabilityError, match="SQLAlchemy Connection/Session or a sqlite3 connection"):
            broker.enqueue_in(object(), [])
            broker.enqueue_in(object(), [__import__("queuekit").Envelope("a", "q", b"x")])
    finally:
        broker.close()
