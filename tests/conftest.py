"""Fixtures shared by every test directory.

CI sets ``QUEUEKIT_REQUIRE_SERVICES=1``: then a test that skips because a service is
unreachable fails the run instead (see ``pytest_terminal_summary`` below and .ci/run).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from queuekit import App


@pytest.fixture
def unique() -> str:
    """A short unique token for queue names, prefixes and files."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def memory_app() -> Iterator[App]:
    """An app on a private in-memory broker."""
    app = App("memory://", backoff=0.01, max_backoff=0.05)
    yield app
    app.close()


_service_skips: list[str] = []


def _services_required() -> bool:
    return os.environ.get("QUEUEKIT_REQUIRE_SERVICES") == "1"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember every test skipped because a service was unreachable."""
    if report.skipped and "service unavailable" in str(report.longrepr):
        _service_skips.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under QUEUEKIT_REQUIRE_SERVICES=1 a service skip fails the run."""
    if _services_required() and _service_skips:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name the service tests that skipped."""
    if _service_skips:
        verdict = "FAILED: services are required here" if _services_required() else "skipped"
        terminalreporter.write_line(f"{len(_service_skips)} service test(s) {verdict}:", red=_services_required())
        for nodeid in _service_skips:
            terminalreporter.write_line(f"  {nodeid}")
