"""The conformance kit, state machine included, on SQLite (file databases in the scratch directory)."""

from __future__ import annotations

from pathlib import Path

from queuekit_sql import SQLBroker

from queuekit.testing import BrokerContract, Clock, default_settings, make_state_machine_test


def _open(clock: Clock | None, workdir: Path) -> SQLBroker:
    return SQLBroker.from_url(f"sqlite:///{workdir / 'queue.db'}", clock=clock)


class TestSQLiteBroker(BrokerContract):
    """SQLite on an injected clock: every due, lease and expiry decision is exact."""

    injects_clock = True

    def open_broker(self, clock: Clock | None, workdir: Path) -> SQLBroker:
        return _open(clock, workdir)


class TestSQLiteBrokerRealClock(BrokerContract):
    """SQLite on the process clock, as it runs in production."""

    short_lease = 0.3

    def open_broker(self, clock: Clock | None, workdir: Path) -> SQLBroker:
        return _open(None, workdir)


TestSQLiteMachine = make_state_machine_test(_open, injects_clock=True, name="SQLiteMachine")
TestSQLiteMachineRealClock = make_state_machine_test(
    _open, name="SQLiteMachineRealClock", settings=default_settings(max_examples=25)
)
