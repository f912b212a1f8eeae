"""The schema: created by ``queuekit sql migrate``, checked at open, upgraded once under concurrency."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from queuekit_sql import SQLBroker
from queuekit_sql.schema import migrations

from queuekit.errors import ConfigurationError

ROOT = Path(__file__).parents[2]


def _queuekit(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "queuekit", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def _check(url: str) -> str:
    return url.replace("migrate=auto", "migrate=check") if "migrate=auto" in url else url + "?migrate=check"


def test_every_family_ships_the_same_numbered_versions() -> None:
    versions = {family: [m.version for m in migrations(family)] for family in ("sqlite", "postgresql", "mysql")}
    assert versions["sqlite"] == versions["postgresql"] == versions["mysql"] == list(
        range(1, len(versions["sqlite"]) + 1)
    )


def test_check_mode_refuses_missing_tables_and_names_the_command(db_url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"missing: run `queuekit sql migrate URL`"):
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
        assert [(int(v), int(n)) for v, n in rows] == [(1, 1)]
    finally:
        broker.close()


def test_a_newer_schema_is_refused(db_url: str) -> None:
    broker = SQLBroker.from_url(db_url)
    table = broker._sql.names.versions
    broker._db.write(lambda cur: cur.execute(f"INSERT INTO {table} (version, name, applied_at) VALUES (99, 'x', 0)"))
    broker.close()
    with pytest.raises(ConfigurationError, match="schema version 99, newer than this queuekit-sql"):
        SQLBroker.from_url(db_url)


@pytest.mark.service
def test_postgresql_schema_option_creates_and_uses_the_schema(pg_url: str, unique: str) -> None:
    schema = f"qkt_schema_{unique}"
    broker = SQLBroker.from_url(f"{pg_url}&schema={schema}")
    try:
        assert broker._sql.names.jobs.startswith(f'"{schema}".')
        found = broker._db.read(lambda cur: (cur.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s", (schema,)), cur.fetchall())[1])
        assert found[0][0] == 4
    finally:
        broker._db.write(lambda cur: cur.execute(f'DROP SCHEMA "{schema}" CASCADE'))
        broker.close()
