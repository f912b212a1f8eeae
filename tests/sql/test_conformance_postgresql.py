"""The conformance kit, state machine included, on the shared PostgreSQL server."""

from __future__ import annotations

import pytest

from tests.sql.server_suite import server_suite

pytestmark = pytest.mark.service

(
    _drop_tables,
    TestPostgreSQLBroker,
    TestPostgreSQLBrokerInjectedClock,
    TestPostgreSQLMachine,
    TestPostgreSQLMachineDbClock,
) = server_suite("postgresql")
