"""SQL identifier and injection safety (research 5.13): queue names are data, identifiers are checked."""

from __future__ import annotations

import pytest
import sqlalchemy
from queuekit_sql import SQLBroker
from queuekit_sql.options import parse
from queuekit_sql.statements import Names

from queuekit.broker import Envelope
from queuekit.errors import ConfigurationError, InvalidQueueName

NASTY = [  # refused by the one queue-name rule before any SQL is written
    "'; DROP TABLE jobs; --",
    "queuekit_jobs\"; DROP TABLE \"queuekit_jobs",
    "Ünïcode ✓",
    "a b",
    "q ",
]
ODD = [  # allowed, and kept apart although they look alike
    "a" * 128,
    "Q",
    "q",
    "q:1",
    "q.1",
    "q-1",
    "x" * 63 + "1",
    "x" * 63 + "2",
]


def _tables(broker: SQLBroker) -> list[str]:
    """This broker's tables (its prefix's): other tests may create and drop theirs meanwhile."""
    with broker._db.engine.connect() as connection:
        names = sqlalchemy.inspect(connection).get_table_names(schema=broker.settings.schema)
    return sorted(name for name in names if name.startswith(broker.settings.prefix))


def test_odd_queue_names_are_stored_verbatim_and_kept_apart_and_nasty_ones_refused(db_url: str) -> None:
    broker = SQLBroker.from_url(db_url)
    try:
        before = _tables(broker)
        assert f"{broker.settings.prefix}jobs" in before
        for name in NASTY:
            with pytest.raises(InvalidQueueName, match="invalid queue name"):
                broker.enqueue([Envelope("nasty", name, b"x")])
        for n, name in enumerate(ODD):
            broker.enqueue([Envelope(f"job-{n}", name, name.encode())])
        for n, name in enumerate(ODD):
            got = broker.reserve([name], 10, 60)
            assert [(d.id, d.queue, d.body) for d in got] == [(f"job-{n}", name, name.encode())]
        assert _tables(broker) == before
        assert set(broker.stats(ODD)) == set(ODD)
    finally:
        broker.close()


@pytest.mark.parametrize("name", ["x\x00y", "a" * 129, "", None])
def test_unstorable_queue_names_are_rejected_before_any_write(db_url: str, name: object) -> None:
    broker = SQLBroker.from_url(db_url)
    try:
        with pytest.raises(InvalidQueueName, match="queue name"):
            broker.enqueue([Envelope("ok", "fine", b"x"), Envelope("bad", name, b"x")])  # type: ignore[arg-type]
        assert broker.stats(["fine"])["fine"].ready == 0  # nothing half-written
        with pytest.raises(InvalidQueueName):
            broker.reserve([name], 1, 10)  # type: ignore[list-item]
    finally:
        broker.close()


@pytest.mark.parametrize(
    "option",
    ["prefix=jobs;drop", "prefix=Upper_", "prefix=a-b", "prefix=1abc", "prefix=" + "a" * 31, "schema=x%22y",
     "schema=a.b"],
)
def test_identifiers_outside_the_pattern_are_refused(option: str) -> None:
    with pytest.raises(ConfigurationError, match="not allowed"):
        parse(f"postgresql://u@h/db?{option}", {})


def test_identifiers_are_quoted_and_the_channel_is_fixed_length() -> None:
    names = Names.build("app_", "tenant_a", lambda ident: f'"{ident}"')
    assert names.jobs == '"tenant_a"."app_jobs"'
    long_a = Names.build("p" * 30, "s" * 63, lambda ident: f'"{ident}"')
    long_b = Names.build("p" * 30, "s" * 62 + "t", lambda ident: f'"{ident}"')
    assert len(long_a.channel) == len(names.channel) < 63
    assert long_a.channel != long_b.channel


def test_schema_is_refused_on_sqlite(sqlite_url: str) -> None:
    with pytest.raises(ConfigurationError, match="schema= is not supported on SQLite"):
        SQLBroker.from_url(sqlite_url + "?schema=other")
