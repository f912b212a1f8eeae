"""Connection loss and wake-ups on the servers: dead connections are discarded, LISTEN wakes workers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from queuekit_sql import SQLBroker
from queuekit_sql import broker as broker_module

from queuekit.broker import Delivery, Envelope
from queuekit.errors import ConnectionLost
from tests.sql.proxy import Proxy
from tests.support import wait_until

pytestmark = pytest.mark.service
ROOT = Path(__file__).parents[2]


def _server_ids(broker: SQLBroker, count: int) -> list[int]:
    """The server-side ids of the ``count`` connections the broker uses next (taken together, then kept)."""
    query = "SELECT pg_backend_pid()" if broker.settings.family == "postgresql" else "SELECT CONNECTION_ID()"
    db = broker._db
    held = [db._take() for _ in range(count)]
    ids = []
    for connection in held:
        connection.cursor.execute(query)
        ids.append(int(connection.cursor.fetchall()[0][0]))
    for connection in held:
        db._keep_or_return(connection)
    assert len(db._spare) >= count  # every one of them is what the next operations take first
    return ids


def _kill(broker: SQLBroker, ids: list[int]) -> None:
    """End those server sessions from a connection of our own (never anybody else's)."""
    engine = broker._db.engine
    cargs, cparams = engine.dialect.create_connect_args(engine.url)
    killer = engine.dialect.connect(*cargs, **cparams)
    try:
        cur: Any = killer.cursor()
        for server_id in ids:
            if broker.settings.family == "postgresql":
                cur.execute("SELECT pg_terminate_backend(%s)", (server_id,))
                cur.fetchall()
            else:
                cur.execute(f"KILL {int(server_id)}")
        if broker.settings.family == "postgresql":
            killer.commit()
    finally:
        killer.close()


@pytest.fixture(params=["postgresql", "mariadb"])
def server_url(request: pytest.FixtureRequest) -> str:
    fixture = "pg_url" if request.param == "postgresql" else "mariadb_url"
    return str(request.getfixturevalue(fixture))


def test_killed_pool_connections_are_replaced_and_nothing_is_lost(server_url: str) -> None:
    broker = SQLBroker.from_url(server_url)
    try:
        broker.enqueue([Envelope("before", "q", b"x")])
        _kill(broker, _server_ids(broker, 3))
        assert broker.enqueue([Envelope("after", "q", b"y")]) == ["after"]  # retried on a fresh connection
        got = broker.reserve(["q"], 10, 60)
        assert sorted(d.id for d in got) == ["after", "before"]
        _kill(broker, _server_ids(broker, 3))
        broker.ack(got)
        assert broker.stats(["q"])["q"].in_flight == 0
    finally:
        broker.close()


@pytest.mark.parametrize("url", ["postgresql://qk:s3cret-pw@127.0.0.1:1/test",
                                 "mariadb://qk:s3cret-pw@127.0.0.1:1/test"])
def test_an_unreachable_server_is_connection_lost_without_the_password(url: str) -> None:
    with pytest.raises(ConnectionLost) as caught:
        SQLBroker.from_url(url)
    assert "s3cret-pw" not in str(caught.value)
    assert str(caught.value).startswith("could not connect to ")  # never "lost": no connection was made
    assert "127.0.0.1:1/test" in str(caught.value)


def test_a_server_gone_after_connecting_is_a_lost_connection(server_url: str) -> None:
    port = urlsplit(server_url).port
    with Proxy(("127.0.0.1", port or 0)) as proxy:
        broker = SQLBroker.from_url(server_url.replace(f"127.0.0.1:{port}", f"127.0.0.1:{proxy.port}", 1))
        try:
            assert broker.enqueue([Envelope("before", "q", b"x")]) == ["before"]
            proxy.cut()
            with pytest.raises(ConnectionLost) as caught:
                broker.enqueue([Envelope("after", "q", b"y")])
        finally:
            broker.close()
    message = str(caught.value)
    assert message.startswith("enqueue failed: lost the connection to "), message
    assert "could not reconnect" in message and f"127.0.0.1:{proxy.port}" in message


@pytest.mark.parametrize("sent", [
    "[Envelope('far', 'wake', b'x')]",
    "[Envelope('near', 'elsewhere', b'x'), Envelope('far', 'wake', b'y'), Envelope('next', 'elsewhere', b'z')]",
], ids=["one-job", "batch-over-two-queues"])
def test_listen_notify_wakes_a_blocked_reserve_for_an_enqueue_from_another_process(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, sent: str
) -> None:
    monkeypatch.setattr(broker_module, "_FIRST_PAUSE", 600.0)  # polling alone would take ten minutes
    broker = SQLBroker.from_url(pg_url + "&poll_max=600")
    got: list[list[Delivery]] = []
    try:
        assert broker.reserve(["wake"], 1, 30) == []
        broker._listen()
        thread = threading.Thread(target=lambda: got.append(broker.reserve(["wake"], 1, 30, wait=600)))
        thread.start()
        code = ("import sys; from queuekit_sql import SQLBroker; from queuekit.broker import Envelope; "
                f"b = SQLBroker.from_url(sys.argv[1]); b.enqueue({sent}); b.close()")
        subprocess.run([sys.executable, "-c", code, pg_url], check=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        wait_until(lambda: not thread.is_alive(), timeout=30, what="the NOTIFY to wake the reserve")
        assert [d.id for d in got[0]] == ["far"]
    finally:
        broker.close()


def test_a_job_id_enqueued_twice_is_stored_once_and_the_connection_stays_usable(server_url: str) -> None:
    """PostgreSQL's one-job insert has no ON CONFLICT: the taken id is a caught unique violation."""
    broker = SQLBroker.from_url(server_url)
    try:
        assert broker.enqueue([Envelope("twice", "dup", b"1")]) == ["twice"]
        assert broker.enqueue([Envelope("twice", "dup", b"2")]) == ["twice"]
        assert broker.enqueue([Envelope("other", "dup", b"3")]) == ["other"]  # same spare connection, still fine
        got = broker.reserve(["dup"], 10, 60)
        assert sorted((d.id, d.body) for d in got) == [("other", b"3"), ("twice", b"1")]
        broker.ack(got)
    finally:
        broker.close()


def test_a_batch_holding_a_taken_job_id_stores_the_others_once(server_url: str) -> None:
    """PostgreSQL tries a batch without ON CONFLICT first; a taken id makes it write the batch again, tolerantly."""
    broker = SQLBroker.from_url(server_url)
    try:
        assert broker.enqueue([Envelope("taken", "dupb", b"1")]) == ["taken"]
        batch = [Envelope("new-1", "dupb", b"2"), Envelope("taken", "dupb", b"3"), Envelope("new-2", "dupb", b"4")]
        assert broker.enqueue(batch) == ["new-1", "taken", "new-2"]
        got = broker.reserve(["dupb"], 10, 60)
        assert sorted((d.id, d.body) for d in got) == [("new-1", b"2"), ("new-2", b"4"), ("taken", b"1")]
        broker.ack(got)
    finally:
        broker.close()


def test_a_statement_past_read_timeout_is_cut_and_named(server_url: str) -> None:
    broker = SQLBroker.from_url(f"{server_url}&read_timeout=0.5")
    sleep = "SELECT pg_sleep(2)" if server_url.startswith("postgres") else "SELECT SLEEP(2)"
    try:
        with pytest.raises(ConnectionLost) as caught:
            broker._db.read(lambda cur: cur.execute(sleep), what="a slow read")
        message = str(caught.value)
        assert message.startswith("a slow read failed: lost the connection to ") and "read_timeout=0.5s" in message
        assert broker.enqueue([Envelope("after", "q", b"x")]) == ["after"]  # the next call gets a fresh connection
    finally:
        broker.close()


def test_long_work_is_not_cut_by_the_postgresql_watchdog(pg_url: str) -> None:
    broker = SQLBroker.from_url(f"{pg_url}&read_timeout=0.5")
    try:
        broker._db.read(lambda cur: cur.execute("SELECT pg_sleep(1.5)"), what="vacuum-like", long=True)
    finally:
        broker.close()
