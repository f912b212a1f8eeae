"""The conformance kit, state machine included, on SQLite (file databases in the scratch directory)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import sqlalchemy
from queuekit_sql import SQLBroker

from queuekit.testing import BrokerContract, Clock, Harness, default_settings, make_state_machine_test
from tests.sql.servers import transaction


def _url(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'queue.db'}"


def _open(clock: Clock | None, workdir: Path) -> SQLBroker:
    return SQLBroker.from_url(_url(workdir), clock=clock)


class OnFile(BrokerContract):
    """What the capability tests need: the file's URL, and a transaction of the caller's own on it."""

    def broker_url(self, workdir: Path) -> str:
        return _url(workdir)

    def transaction(self, kit: Harness) -> AbstractContextManager[sqlalchemy.Connection]:
        return transaction(_url(kit.workdir))


class TestSQLiteBroker(OnFile):
    """SQLite on an injected clock: every due, lease and expiry decision is exact."""

    injects_clock = True

    def open_broker(self, clock: Clock | None, workdir: Path) -> SQLBroker:
        return _open(clock, workdir)


class TestSQLiteBrokerRealClock(OnFile):
    """SQLite on the process clock, as it runs in production."""

    short_lease = 0.3

    def open_broker(self, clock: Clock | None, workdir: Path) -> SQLBroker:
        return _open(None, workdir)


TestSQLiteMachine = make_state_machine_test(_open, injects_clock=True, name="SQLiteMachine")
TestSQLiteMachineRealClock = make_state_machine_test(
    _open, name="SQLiteMachineRealClock", settings=default_settings(max_examples=25)
)
