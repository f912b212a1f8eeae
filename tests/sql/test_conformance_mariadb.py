"""The conformance kit, state machine included, on the shared MariaDB server."""

from __future__ import annotations

import pytest

from tests.sql.server_suite import server_suite

pytestmark = pytest.mark.service

(
    _drop_tables,
    TestMariaDBBroker,
    TestMariaDBBrokerInjectedClock,
    TestMariaDBMachine,
    TestMariaDBMachineDbClock,
) = server_suite("mariadb")
