"""Swapping the URL alone: a fresh PostgreSQL schema or MariaDB database gets its tables on first use.

Many producers and workers start at once on a fresh deployment; each opens the broker and
they must all succeed with the schema created exactly once. ``?migrate=false`` (a role
that may not run DDL) creates nothing and names the command that does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from queuekit_sql import SQLBroker
from queuekit_sql.schema import migrations

from queuekit.errors import ConfigurationError
from tests.sql.servers import sa_url, url_or_skip
from tests.support import wait_until

ROOT = Path(__file__).parents[2]
OPENERS = 4

# Each process says it is ready, waits for the gate, then opens the broker and enqueues one job.
_OPENER = """
import sys, time
from pathlib import Path
ready, gate, url = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
from queuekit_sql import SQLBroker
from queuekit.broker import Envelope
ready.touch()
deadline = time.monotonic() + 120
while not gate.exists():
    if time.monotonic() > deadline:
        sys.exit("the gate never opened")
    time.sleep(0.002)
broker = SQLBroker.from_url(url)
broker.enqueue([Envelope(ready.name, "first-use", b"{}")])
broker.close()
"""


def _schema_exists(kind: str, schema: str) -> bool:
    engine = sqlalchemy.create_engine(sa_url(kind))
    try:
        with engine.connect() as connection:
            found = connection.exec_driver_sql(
                "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", (schema,)
            ).scalar()
    finally:
        engine.dispose()
    return bool(found)


def _drop_schema(kind: str, schema: str) -> None:
    engine = sqlalchemy.create_engine(sa_url(kind))
    try:
        with engine.begin() as connection:
            quoted = connection.dialect.identifier_preparer.quote_identifier(schema)
            if kind == "postgresql":
                connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quoted} CASCADE")
            else:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}")
    finally:
        engine.dispose()


@pytest.fixture(params=[pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.service),
                        pytest.param("mariadb", marks=pytest.mark.service)])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """(URL, schema) of a database nothing has touched: a new SQLite file, a new schema/database."""
    kind = request.param
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}", None
        return
    schema = f"qkt_s_{uuid.uuid4().hex[:10]}"
    yield f"{url_or_skip(kind)}?schema={schema}", schema
    _drop_schema(kind, schema)


def test_many_processes_opening_a_fresh_schema_at_once_create_it_once(
    fresh: tuple[str, str | None], tmp_path: Path
) -> None:
    url, _ = fresh
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    gate = tmp_path / "go"
    ready = [tmp_path / f"opener-{n}" for n in range(OPENERS)]
    procs = [subprocess.Popen([sys.executable, "-c", _OPENER, str(flag), str(gate), url], env=env,
                              stderr=subprocess.PIPE, text=True) for flag in ready]
    try:
        wait_until(lambda: all(flag.exists() for flag in ready), timeout=120, what="every opener to start")
        gate.touch()  # all of them open the broker now, on a schema that does not exist yet
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    broker = SQLBroker.from_url(url + ("&" if "?" in url else "?") + "migrate=false")
    try:
        table = broker._sql.names.versions
        rows = broker._db.read(lambda cur: (cur.execute(
            f"SELECT version, COUNT(*) FROM {table} GROUP BY version"), cur.fetchall())[1])
        latest = migrations(broker.settings.family)[-1].version
        assert sorted((int(v), int(n)) for v, n in rows) == [(v, 1) for v in range(1, latest + 1)]
        assert broker.stats(["first-use"])["first-use"].ready == OPENERS  # every opener could enqueue
    finally:
        broker.close()


def test_migrate_false_on_a_fresh_schema_creates_nothing_and_names_the_command(
    fresh: tuple[str, str | None]
) -> None:
    url, schema = fresh
    with pytest.raises(ConfigurationError, match=r"are missing: run `queuekit sql migrate URL`") as caught:
        SQLBroker.from_url(url + ("&" if "?" in url else "?") + "migrate=false")
    assert "\n" not in str(caught.value)
    if schema is not None:
        kind = "postgresql" if url.startswith("postgresql") else "mariadb"
        assert not _schema_exists(kind, schema)

