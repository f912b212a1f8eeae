"""SQLite specifics: pragmas, durability as declared, in-memory databases, options and wake-ups."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from queuekit_sql import SQLBroker
from queuekit_sql import broker as broker_module

from queuekit import App
from queuekit.broker import Delivery, Durability, Envelope
from queuekit.errors import ConfigurationError
from queuekit.testing import FakeClock


def _pragma(broker: SQLBroker, name: str) -> object:
    return broker._db.read(lambda cur: cur.execute(f"PRAGMA {name}").fetchone()[0])


def test_wal_busy_timeout_and_synchronous_normal_by_default(sqlite_url: str) -> None:
    broker = SQLBroker.from_url(sqlite_url)
    try:
        assert _pragma(broker, "journal_mode") == "wal"
        assert _pragma(broker, "synchronous") == 1  # NORMAL
        assert _pragma(broker, "busy_timeout") == 30000
        assert broker.capabilities.durability is Durability.SERVER  # a power loss may undo the last commits
        assert broker.capabilities.cross_process and broker.capabilities.transactional_enqueue
    finally:
        broker.close()


def test_synchronous_full_and_timeout_from_the_url(sqlite_url: str) -> None:
    broker = SQLBroker.from_url(sqlite_url + "?synchronous=full&timeout=2.5")
    try:
        assert _pragma(broker, "synchronous") == 2  # FULL: fsync at every commit
        assert _pragma(broker, "busy_timeout") == 2500
        assert broker.capabilities.durability is Durability.DISK
    finally:
        broker.close()


def test_in_memory_database_is_one_database_for_every_thread() -> None:
    broker = SQLBroker.from_url("sqlite://")
    try:
        assert broker.capabilities.durability is Durability.NONE
        assert not broker.capabilities.cross_process
        results: list[list[Delivery]] = []
        broker.enqueue([Envelope("a", "q", b"x")])
        thread = threading.Thread(target=lambda: results.append(broker.reserve(["q"], 5, 30)))
        thread.start()
        thread.join(30)
        assert [d.id for d in results[0]] == ["a"]
    finally:
        broker.close()


def test_relative_path_is_relative_to_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = App("sqlite:///relative.db")
    try:
        assert app.broker.enqueue([Envelope("a", "q", b"x")]) == ["a"]
    finally:
        app.close()
    assert (tmp_path / "relative.db").exists()


@pytest.mark.parametrize(
    ("query", "message"),
    [("?synchronous=sometimes", "synchronous='sometimes' is not one of"),
     ("?timeout=soon", "timeout must be a number"),
     ("?migrate=maybe", "migrate='maybe' is not one of")],
)
def test_bad_options_name_the_option(sqlite_url: str, query: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        SQLBroker.from_url(sqlite_url + query)


def test_unknown_keyword_option_is_refused(sqlite_url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"unknown option .colour. for the SQL broker"):
        SQLBroker.from_url(sqlite_url, colour="blue")


def test_a_blocked_reserve_wakes_at_once_for_an_enqueue_in_this_process(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(broker_module, "_FIRST_PAUSE", 600.0)  # polling alone would take ten minutes
    consumer = SQLBroker.from_url(sqlite_url + "?poll_max=600")
    producer = SQLBroker.from_url(sqlite_url)  # another broker object on the same tables
    got: list[list[Delivery]] = []
    try:
        thread = threading.Thread(target=lambda: got.append(consumer.reserve(["q"], 1, 30, wait=600)))
        thread.start()
        producer.enqueue([Envelope("a", "q", b"x")])
        thread.join(30)
        assert not thread.is_alive(), "the enqueue did not wake the blocked reserve"
        assert [d.id for d in got[0]] == ["a"]
    finally:
        consumer.close()
        producer.close()


def test_expired_results_are_swept(sqlite_url: str) -> None:
    from queuekit.broker import JobStatus, Outcome

    clock = FakeClock()
    broker = SQLBroker.from_url(sqlite_url, clock=clock)
    try:
        broker.save_outcomes([Outcome("old", JobStatus.SUCCEEDED, result=1)], ttl=10)
        broker.save_outcomes([Outcome("new", JobStatus.SUCCEEDED, result=2)], ttl=100)
        clock.advance(50)
        assert broker.load_outcome("old") is None
        assert broker.sweep_results() == 1
        kept = broker.load_outcome("new")
        assert kept is not None and kept.result == 2
    finally:
        broker.close()


def test_delayed_jobs_wait_for_the_clock_and_keep_priority_order(sqlite_url: str) -> None:
    clock = FakeClock()
    broker = SQLBroker.from_url(sqlite_url, clock=clock)
    try:
        broker.enqueue([Envelope("later", "q", b"x", delay=5.5), Envelope("now", "q", b"x"),
                        Envelope("urgent-later", "q", b"x", priority=9, delay=5.5)])
        assert [d.id for d in broker.reserve(["q"], 10, 60)] == ["now"]
        clock.advance(6)
        assert [d.id for d in broker.reserve(["q"], 10, 60)] == ["urgent-later", "later"]
    finally:
        broker.close()


def test_a_forked_child_opens_its_own_connections(sqlite_url: str) -> None:
    import os

    broker = SQLBroker.from_url(sqlite_url)
    try:
        broker.enqueue([Envelope("parent", "q", b"x")])  # the parent holds a pooled connection
        pid = os.fork()
        if pid == 0:  # the child: enqueue on the inherited broker, exit without cleanup
            try:
                broker.enqueue([Envelope("child", "q", b"y")])
                os._exit(0)
            except BaseException:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert sorted(d.id for d in broker.reserve(["q"], 10, 30)) == ["child", "parent"]
    finally:
        broker.close()
