"""PostgreSQL table maintenance: the vacuum keeper and the plan guard of pooled sessions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy
from queuekit_sql.broker import SQLBroker
from queuekit_sql.vacuum import VacuumKeeper

from queuekit import Envelope
from tests.sql.servers import sa_url
from tests.support import wait_until

service = pytest.mark.service

# -- VacuumKeeper.due and check, without a database -----------------------------------------


def test_due_needs_the_floor_plus_a_fraction_of_the_live_rows() -> None:
    keeper = VacuumKeeper(lambda work: None, '"t"', floor=2000, fraction=0.1)
    assert not keeper.due(0, 0)
    assert not keeper.due(1999, 0)
    assert keeper.due(2000, 0)
    assert not keeper.due(2099, 1000)
    assert keeper.due(2100, 1000)
    assert not keeper.due(101_999, 1_000_000)
    assert keeper.due(102_000, 1_000_000)


def test_due_defaults_and_a_zero_fraction() -> None:
    keeper = VacuumKeeper(lambda work: None, '"t"')
    assert (keeper.interval, keeper.floor, keeper.fraction) == (1.0, 2000, 0.1)
    assert keeper.due(2000, 0) and not keeper.due(1999, 0)
    flat = VacuumKeeper(lambda work: None, '"t"', floor=5, fraction=0.0)
    assert flat.due(5, 10**9) and not flat.due(4, 0)


class _Cursor:
    def __init__(self, found: list[tuple[Any, ...]]) -> None:
        self.found = found
        self.executed: list[tuple[str, Any]] = []

    def execute(self, sql: str, params: Any = None) -> None:
        self.executed.append((sql, params))

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.found


@pytest.mark.parametrize(
    ("found", "vacuums"),
    [([(10, 0)], True), ([(9, 0)], False), ([(9, 100)], False), ([(30, 100)], True), ([(None, None)], False),
     ([], False)],  # [] : the table is unknown to the statistics
)
def test_check_vacuums_the_named_table_only_when_due(found: list[tuple[Any, ...]], vacuums: bool) -> None:
    cursor = _Cursor(found)
    keeper = VacuumKeeper(lambda work: work(cursor), '"s"."qkt_jobs"', floor=10, fraction=0.2)
    assert keeper.check() is vacuums
    assert keeper.vacuums == int(vacuums)
    assert cursor.executed[0][1] == ('"s"."qkt_jobs"',)
    vacuum = [('VACUUM (SKIP_LOCKED) "s"."qkt_jobs"', None), (cursor.executed[0][0], ('"s"."qkt_jobs"',))]
    assert cursor.executed[1:] == (vacuum if vacuums else [])  # after a vacuum: what it left behind


def test_rows_a_vacuum_could_not_remove_do_not_trigger_the_next_one() -> None:
    cursor = _Cursor([(500, 0)])
    keeper = VacuumKeeper(lambda work: work(cursor), "qkt_jobs", floor=100, fraction=0.0)
    assert keeper.check()  # a long transaction elsewhere keeps all 500 ...
    assert keeper.left_behind == 500
    assert not keeper.check()  # ... so the same 500 are no reason to vacuum again
    cursor.found = [(599, 0)]
    assert not keeper.check()
    cursor.found = [(600, 0)]  # 100 new dead rows: due again
    assert keeper.check()
    cursor.found = [(20, 0)]  # someone else vacuumed since: the baseline follows
    assert not keeper.check()
    assert keeper.left_behind == 20
    assert keeper.vacuums == 2


# -- on PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture
def stats_engine() -> Iterator[sqlalchemy.Engine]:
    """An autocommit engine of the test's own, outside any broker pool."""
    engine = sqlalchemy.create_engine(sa_url("postgresql"), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def _table_stats(engine: sqlalchemy.Engine, table: str) -> dict[str, int]:
    sql = ("SELECT n_dead_tup, n_live_tup, n_tup_ins, n_tup_upd, n_tup_del, vacuum_count "
           "FROM pg_stat_all_tables WHERE relid = to_regclass(%s)")
    with engine.connect() as connection:
        row = connection.exec_driver_sql(sql, (table,)).one()
    return dict(zip(("dead", "live", "inserted", "updated", "deleted", "vacuums"), map(int, row), strict=True))


# Sessions of this database whose snapshot or transaction is older than ``marker`` (a
# transaction id taken after the test's own writes): rows they may still see are not
# removable, so a vacuum now would leave them behind as "dead but not yet removable".
_OLDER_SESSIONS = """SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND (age(backend_xmin) > age(CAST(%(marker)s AS xid)) OR age(backend_xid) > age(CAST(%(marker)s AS xid)))"""


def _wait_for_older_sessions(engine: sqlalchemy.Engine) -> None:
    """Wait until no session of the database can still see rows deleted before now."""
    with engine.connect() as connection:
        marker = str(int(connection.exec_driver_sql("SELECT txid_current()").scalar()) % 2**32)  # as an xid

    def none_older() -> bool:
        with engine.connect() as connection:
            return connection.exec_driver_sql(_OLDER_SESSIONS, {"marker": marker}).scalar() == 0

    wait_until(none_older, timeout=30.0, what="older snapshots of other sessions to end")


def _show(broker: SQLBroker, setting: str) -> str:
    def work(cur: Any) -> str:
        cur.execute(f"SHOW {setting}")
        return str(cur.fetchone()[0])

    return broker._db.read(work)


@service
def test_check_vacuums_a_table_full_of_dead_rows_then_finds_it_clean(
    pg_url: str, stats_engine: sqlalchemy.Engine
) -> None:
    broker = SQLBroker.from_url(pg_url + "&vacuum=false")
    table = broker._sql.names.jobs
    total, batch = 3000, 500
    try:
        # Nothing but this test may vacuum the table (CI servers run autovacuum).
        broker._db.read(lambda cur: cur.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
        for start in range(0, total, batch):
            broker.enqueue([Envelope(f"job-{n}", "maint", b"x") for n in range(start, start + batch)])
            got = broker.reserve(["maint"], batch, 60)
            assert len(got) == batch
            broker.ack(got)
        assert broker._keeper is None  # ?vacuum=false: no keeper started by the reserves
        assert broker.stats(["maint"])["maint"].ready == 0

        # Backends report their statistics late (an idle one after up to 10 s), an exiting
        # one at once: close the pooled sessions, then wait until every insert, claim and
        # ack has arrived, so that none lands after the vacuum.
        broker._db.engine.dispose()

        def reported() -> bool:
            stats = _table_stats(stats_engine, table)
            return (stats["inserted"], stats["updated"], stats["deleted"]) == (total, total, total)

        wait_until(reported, timeout=30.0, what="the table statistics to be reported")
        # Other sessions on the server (other tests, other tables) hold snapshots for a
        # moment; one older than the acks would keep their rows from the vacuum.
        _wait_for_older_sessions(stats_engine)
        before = _table_stats(stats_engine, table)
        assert before["dead"] >= 1000 and before["live"] == 0 and before["vacuums"] == 0

        keeper = VacuumKeeper(lambda work: broker._db.read(work, what="vacuum"), table, floor=100)
        assert keeper.check() is True
        assert keeper.vacuums == 1
        wait_until(lambda: _table_stats(stats_engine, table)["vacuums"] == 1, timeout=30.0,
                   what="the vacuum to be counted")
        after = _table_stats(stats_engine, table)
        assert after["dead"] < before["dead"]
        assert after["dead"] < keeper.floor

        assert keeper.check() is False  # clean now: nothing to do
        assert keeper.vacuums == 1
        assert _table_stats(stats_engine, table)["vacuums"] == 1
        broker.purge("maint")
    finally:
        broker.close()


@service
def test_pooled_sessions_plan_without_seq_or_bitmap_scans(pg_url: str, stats_engine: sqlalchemy.Engine) -> None:
    broker = SQLBroker.from_url(pg_url)
    try:
        assert broker.settings.plan_guard is True  # the default
        held = [broker._db.engine.raw_connection() for _ in range(3)]  # three distinct pooled sessions
        try:
            for raw in held:
                cursor = raw.cursor()
                for setting in ("enable_seqscan", "enable_bitmapscan"):
                    cursor.execute(f"SHOW {setting}")
                    assert cursor.fetchone()[0] == "off", setting
                cursor.close()
        finally:
            for raw in held:
                raw.close()
        assert _show(broker, "enable_bitmapscan") == "off"
        assert _show(broker, "enable_seqscan") == "off"
        broker._db.engine.dispose()  # a fresh connection is guarded too
        assert _show(broker, "enable_seqscan") == "off"
        with stats_engine.connect() as other:  # the guard is the broker's sessions', not the database's
            assert other.exec_driver_sql("SHOW enable_seqscan").scalar() == "on"
            assert other.exec_driver_sql("SHOW enable_bitmapscan").scalar() == "on"
    finally:
        broker.close()


@service
def test_plan_guard_false_leaves_the_planner_alone(pg_url: str) -> None:
    broker = SQLBroker.from_url(pg_url + "&plan_guard=false")
    try:
        assert broker.settings.plan_guard is False
        assert _show(broker, "enable_bitmapscan") == "on"
        assert _show(broker, "enable_seqscan") == "on"
    finally:
        broker.close()


@service
def test_the_keeper_starts_on_the_first_reserve_and_stops_at_close(pg_url: str) -> None:
    broker = SQLBroker.from_url(pg_url)
    try:
        broker.enqueue([Envelope("one", "maint", b"x")])
        assert broker._keeper is None  # producing alone starts nothing
        [delivery] = broker.reserve(["maint"], 10, 60)
        keeper = broker._keeper
        assert keeper is not None
        assert keeper._thread.is_alive()
        assert keeper._thread.daemon
        broker.ack([delivery])
        assert broker.reserve(["maint"], 10, 60) == []
        assert broker._keeper is keeper  # one keeper per process, not one per reserve
    finally:
        broker.close()
    assert broker._keeper is None
    assert not keeper._thread.is_alive()
    broker.close()  # twice is fine


@service
def test_vacuum_false_starts_no_keeper(pg_url: str) -> None:
    broker = SQLBroker.from_url(pg_url + "&vacuum=false")
    try:
        broker.enqueue([Envelope("one", "maint", b"x")])
        [delivery] = broker.reserve(["maint"], 10, 60)
        assert broker._keeper is None
        broker.ack([delivery])
        assert broker.reserve(["maint"], 10, 60) == []
        assert broker._keeper is None
    finally:
        broker.close()


class _LateLock:
    """A lock that holds one thread at its door until told to go on, to replay a race."""

    def __init__(self, held: threading.Thread) -> None:
        self._lock = threading.Lock()
        self._held = held
        self.arrived = threading.Event()
        self.go = threading.Event()

    def __enter__(self) -> None:
        if threading.current_thread() is self._held:
            self.arrived.set()
            self.go.wait(10.0)
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


@service
def test_a_reserve_racing_close_leaves_no_keeper_running(pg_url: str) -> None:
    broker = SQLBroker.from_url(pg_url)
    reserving = threading.Thread(target=lambda: broker.reserve(["maint"], 1, 60), name="racing-reserve")
    door = _LateLock(reserving)
    broker._listener_lock = door  # type: ignore[assignment]
    try:
        reserving.start()
        assert door.arrived.wait(10.0)  # the reserve passed the _closed check and waits at the lock ...
        broker.close()  # ... while close() runs to the end
        door.go.set()
        reserving.join(10.0)
        assert not reserving.is_alive()
        assert broker._keeper is None
    finally:
        door.go.set()
        reserving.join(10.0)
        leaked = broker._keeper
        if leaked is not None:
            leaked.stop()
        broker.close()
