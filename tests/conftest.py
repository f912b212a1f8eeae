"""Fixtures shared by every test directory.

A test whose server, tool or driver is missing calls ``tests.support.service_unavailable``:
a skip locally, a failure under ``QUEUEKIT_REQUIRE_SERVICES=1`` (CI, .ci/run). The hook
below lists those skips at the end of a local run.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Generator, Iterator

import pytest

from queuekit import App
from tests.support import ServiceUnavailable


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


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    """Undo what an in-process command (``queuekit``, ``queuekit bench``) did to logging: handlers, levels.

    ``main()`` adds a handler on the ``sys.stderr`` pytest captured for that test; left in
    place, later tests' log lines go to a closed stream ("I/O operation on closed file").
    """
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    loggers = [v for v in logging.root.manager.loggerDict.values() if isinstance(v, logging.Logger)]
    levels = {logger: logger.level for logger in loggers}
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    for logger in [v for v in logging.root.manager.loggerDict.values() if isinstance(v, logging.Logger)]:
        logger.setLevel(levels.get(logger, logging.NOTSET))  # one made during the test had no level before


_service_skips: list[str] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember every test that ``tests.support.service_unavailable`` skipped (by exception type)."""
    report: pytest.TestReport = yield
    if call.excinfo is not None and call.excinfo.errisinstance(ServiceUnavailable):
        _service_skips.append(report.nodeid)
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name the service tests that skipped (under QUEUEKIT_REQUIRE_SERVICES=1 they failed instead)."""
    if _service_skips:
        terminalreporter.write_line(f"{len(_service_skips)} service test(s) skipped (a service was missing):")
        for nodeid in _service_skips:
            terminalreporter.write_line(f"  {nodeid}")
