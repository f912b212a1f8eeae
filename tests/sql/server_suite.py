"""The conformance kit, state machine included, for one shared SQL server.

``server_suite(kind)`` builds the classes a test module exposes, so PostgreSQL and
MariaDB run exactly the same suite; each test's tables get their own prefix and are
dropped when the module ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import sqlalchemy
from queuekit_sql import SQLBroker

from queuekit.testing import BrokerContract, Clock, Harness, default_settings, make_state_machine_test
from tests.sql.servers import drop_prefix, prefix_for, transaction, url_or_skip, with_prefix


def server_suite(kind: str) -> tuple[Callable[[], Iterator[None]], type, type, type, type]:
    """(table-dropping fixture, real-clock contract, injected-clock contract, two machines)."""
    opened: set[str] = set()

    def broker_url(workdir: Path) -> str:
        prefix = prefix_for(str(workdir))  # open_another() on the same workdir shares the tables
        opened.add(prefix)
        return with_prefix(url_or_skip(kind), prefix)

    def open_broker(clock: Clock | None, workdir: Path) -> SQLBroker:
        return SQLBroker.from_url(broker_url(workdir), clock=clock)

    class OnServer(BrokerContract):
        """What the capability tests need: the URL, and a transaction of the caller's own."""

        def broker_url(self, workdir: Path) -> str:
            return broker_url(workdir)

        def transaction(self, kit: Harness) -> AbstractContextManager[sqlalchemy.Connection]:
            return transaction(broker_url(kit.workdir))

    @pytest.fixture(autouse=True, scope="module")
    def drop_tables() -> Iterator[None]:
        yield
        for prefix in sorted(opened):
            drop_prefix(kind, prefix)

    class DatabaseClock(OnServer):
        """On the database clock, as in production: short real leases."""

        short_lease = 0.5

        def open_broker(self, clock: Clock | None, workdir: Path) -> SQLBroker:
            return open_broker(None, workdir)

    class InjectedClock(OnServer):
        """On an injected clock: the exact checks."""

        injects_clock = True

        def open_broker(self, clock: Clock | None, workdir: Path) -> SQLBroker:
            return open_broker(clock, workdir)

    title = {"postgresql": "PostgreSQL", "mariadb": "MariaDB"}.get(kind, kind)
    machine = pytest.mark.service(make_state_machine_test(
        open_broker, injects_clock=True, name=f"{title}Machine", settings=default_settings(max_examples=40)))
    db_clock_machine = pytest.mark.service(make_state_machine_test(
        open_broker, name=f"{title}MachineDbClock", settings=default_settings(max_examples=20)))
    return drop_tables, DatabaseClock, InjectedClock, machine, db_clock_machine
