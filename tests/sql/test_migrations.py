"""The schema: created by ``queuekit sql migrate``, checked at open, upgraded once under concurrency."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from queuekit_sql import SQLBroker
from queuekit_sql.schema import Migrator, migrations

from queuekit.broker import Envelope
from queuekit.errors import ConfigurationError

ROOT = Path(__file__).parents[2]


def _queuekit(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "queuekit", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def _check(url: str) -> str:
    """``url`` for a role that may not run DDL: ``?migrate=false``."""
    return f"{url}{'&' if '?' in url else '?'}migrate=false"


def test_every_family_ships_the_same_numbered_versions() -> None:
    versions = {family: [m.version for m in migrations(family)] for family in ("sqlite", "postgresql", "mysql")}
    assert versions["sqlite"] == versions["postgresql"] == versions["mysql"] == list(
        range(1, len(versions["sqlite"]) + 1)
    )


def test_migrate_false_refuses_missing_tables_and_names_the_command(db_url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"missing: run `queuekit sql migrate URL` \(or drop migrate=false"):
        SQLBroker.from_url(_check(db_url))


def test_migrate_command_creates_then_reports_up_to_date(db_url: str) -> None:
    url = _check(db_url)
    before = _queuekit("sql", "version", url)
    assert before.returncode == 1 and "no queuekit tables" in before.stdout
    first = _queuekit("sql", "migrate", url)
    assert first.returncode == 0, first.stderr
    assert "applied schema version(s) 1" in first.stdout
    again = _queuekit("sql", "migrate", "--url", url)
    assert again.returncode == 0 and "already at schema version" in again.stdout
    assert _queuekit("sql", "version", url).returncode == 0
    SQLBroker.from_url(url).close()  # check mode now accepts it


def test_concurrent_first_use_applies_each_version_once(db_url: str) -> None:
    opener = f"from queuekit_sql import SQLBroker; SQLBroker.from_url({db_url!r}).close()"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", opener], env=env, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    broker = SQLBroker.from_url(db_url)
    try:
        rows = broker._db.read(lambda cur: (cur.execute(
            f"SELECT version, COUNT(*) FROM {broker._sql.names.versions} GROUP BY version"), cur.fetchall())[1])
        latest = migrations(broker.settings.family)[-1].version
        assert sorted((int(v), int(n)) for v, n in rows) == [(v, 1) for v in range(1, latest + 1)]
    finally:
        broker.close()


def test_a_newer_schema_is_refused(db_url: str) -> None:
    broker = SQLBroker.from_url(db_url)
    table = broker._sql.names.versions
    broker._db.write(lambda cur: cur.execute(f"INSERT INTO {table} (version, name, applied_at) VALUES (99, 'x', 0)"))
    broker.close()
    with pytest.raises(ConfigurationError, match=r"schema version 99, newer than this queuekit .*--upgrade"):
        SQLBroker.from_url(db_url)


@pytest.mark.service
def test_postgresql_schema_option_creates_and_uses_the_schema(pg_url: str, unique: str) -> None:
    schema = f"qkt_schema_{unique}"
    broker = SQLBroker.from_url(f"{pg_url}&schema={schema}")
    try:
        assert broker._sql.names.jobs.startswith(f'"{schema}".')
        found = broker._db.read(lambda cur: (cur.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s", (schema,)), cur.fetchall())[1])
        assert found[0][0] == 6  # jobs, dead, results, kv, kv_members, schema_version
    finally:
        broker._db.write(lambda cur: cur.execute(f'DROP SCHEMA "{schema}" CASCADE'))
        broker.close()


def test_upgrade_keeps_queued_jobs_and_their_order(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables at schema 1 holding jobs upgrade in place; the jobs come out as they went in."""
    first_only = Migrator.__init__

    def at_schema_one(self: Migrator, *args: object) -> None:
        first_only(self, *args)
        self.available = self.available[:1]
        self.latest = 1

    with monkeypatch.context() as patched:
        patched.setattr(Migrator, "__init__", at_schema_one)
        old = SQLBroker.from_url(db_url)
        ids = old.enqueue([Envelope(f"job-{n}", "upgrade", b"{}", priority=n % 2) for n in range(6)])
        old.close()
    broker = SQLBroker.from_url(db_url)  # the default (migrate=auto) applies what is missing
    try:
        assert Migrator(broker._db, broker._sql.names).current() == migrations(broker.settings.family)[-1].version
        taken = broker.reserve(["upgrade"], 10, 30)
        assert [d.id for d in taken] == [i for i in ids if int(i[4:]) % 2] + [i for i in ids if not int(i[4:]) % 2]
        broker.ack(taken)
        assert broker.stats(["upgrade"])["upgrade"].ready == 0
        twice = (f"INSERT INTO {broker._sql.names.jobs} (id, queue, priority, state, due, attempts, body, "
                 "enqueued_at) VALUES ('dup', 'q', 0, 'ready', 0, 0, 'x', 0), ('dup', 'q', 0, 'ready', 0, 0, 'x', 0)")
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):  # the job id is still unique
            broker._db.write(lambda cur: cur.execute(twice))
    finally:
        broker.close()
