"""The conformance kit, state machine included, on the shared PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from queuekit_sql import SQLBroker

from queuekit.testing import BrokerContract, Clock, default_settings, make_state_machine_test
from tests.sql.servers import drop_prefix, prefix_for, url_or_skip, with_prefix

pytestmark = pytest.mark.service
KIND = "postgresql"
_opened: set[str] = set()


def _open(clock: Clock | None, workdir: Path) -> SQLBroker:
    url = url_or_skip(KIND)
    prefix = prefix_for(str(workdir))  # open_another() on the same workdir shares the tables
    _opened.add(prefix)
    return SQLBroker.from_url(with_prefix(url, prefix), clock=clock)


@pytest.fixture(autouse=True, scope="module")
def _drop_tables() -> Iterator[None]:
    yield
    for prefix in sorted(_opened):
        drop_prefix(KIND, prefix)


class TestPostgreSQLBroker(BrokerContract):
    """On the database clock, as in production: short real leases."""

    short_lease = 0.5

    def open_broker(self, clock: Clock | None, workdir: Path) -> SQLBroker:
        return _open(None, workdir)


class TestPostgreSQLBrokerInjectedClock(BrokerContract):
    """On an injected clock: the exact checks."""

    injects_clock = True

    def open_broker(self, clock: Clock | None, workdir: Path) -> SQLBroker:
        return _open(clock, workdir)


TestPostgreSQLMachine = pytest.mark.service(
    make_state_machine_test(_open, injects_clock=True, name="PostgreSQLMachine",
                            settings=default_settings(max_examples=40))
)
TestPostgreSQLMachineDbClock = pytest.mark.service(
    make_state_machine_test(_open, name="PostgreSQLMachineDbClock", settings=default_settings(max_examples=20))
)
