"""The conformance kit, state machine included, on the shared Redis server."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from queuekit_redis import RedisBroker

from queuekit.testing import BrokerContract, Clock, default_settings, make_state_machine_test
from tests.redis.servers import delete_prefix, shared_url_or_skip

pytestmark = pytest.mark.service


def _prefix(workdir: Path) -> str:
    """One prefix per scratch directory, so open_another() shares the test's keys."""
    return "qkt-" + hashlib.sha1(str(workdir).encode()).hexdigest()[:12]


_opened: set[str] = set()


def _url(workdir: Path) -> str:
    _opened.add(_prefix(workdir))
    return f"{shared_url_or_skip()}?prefix={_prefix(workdir)}"


def _open(clock: Clock | None, workdir: Path) -> RedisBroker:
    return RedisBroker.from_url(_url(workdir))


@pytest.fixture(autouse=True, scope="module")
def _clean_machine_keys() -> Iterator[None]:
    """The state machine opens a broker per example: delete their keys at the end."""
    yield
    delete_prefix(shared_url_or_skip(), *_opened)


class TestRedisBroker(BrokerContract):
    """Leases, delays and TTLs on the server clock: short real ones."""

    short_lease = 0.5

    def open_broker(self, clock: Clock | None, workdir: Path) -> RedisBroker:
        return _open(clock, workdir)

    def broker_url(self, workdir: Path) -> str:
        return _url(workdir)


TestRedisMachine = make_state_machine_test(
    _open, name="RedisMachine", reopen=True, settings=default_settings(max_examples=40)
)
TestRedisMachine = pytest.mark.service(TestRedisMachine)
