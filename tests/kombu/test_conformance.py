"""The conformance kit, state machine included, on kombu's memory, Redis and AMQP transports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from queuekit_kombu import KombuBroker

from queuekit.testing import BrokerContract, Clock, default_settings, make_state_machine_test
from tests.kombu.services import amqp_url_or_skip, cleanup, redis_url_or_skip

_opened: list[KombuBroker] = []


def _memory(clock: Clock | None, workdir: Path) -> KombuBroker:
    broker = KombuBroker("kombu+memory://")
    _opened.append(broker)
    return broker


def _redis(clock: Clock | None, workdir: Path) -> KombuBroker:
    broker = KombuBroker(f"kombu+{redis_url_or_skip()}")  # the kit's queue names are unique
    _opened.append(broker)
    return broker


def _amqp(clock: Clock | None, workdir: Path) -> KombuBroker:
    broker = KombuBroker(f"kombu+{amqp_url_or_skip()}")
    _opened.append(broker)
    return broker


@pytest.fixture(autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    brokers = list(_opened)
    _opened.clear()
    cleanup(brokers)


class TestKombuMemory(BrokerContract):
    """kombu's in-process memory transport."""

    def open_broker(self, clock: Clock | None, workdir: Path) -> KombuBroker:
        return _memory(clock, workdir)


@pytest.mark.service
class TestKombuRedis(BrokerContract):
    """kombu's Redis transport on the shared server, under a key prefix of the test's own."""

    def open_broker(self, clock: Clock | None, workdir: Path) -> KombuBroker:
        return _redis(clock, workdir)

    def broker_url(self, workdir: Path) -> str:
        return f"kombu+{redis_url_or_skip()}"


@pytest.mark.service
class TestKombuAmqp(BrokerContract):
    """kombu's AMQP transport (py-amqp) on the shared RabbitMQ."""

    def open_broker(self, clock: Clock | None, workdir: Path) -> KombuBroker:
        return _amqp(clock, workdir)

    def broker_url(self, workdir: Path) -> str:
        return f"kombu+{amqp_url_or_skip()}"


def _machine(opener: object, name: str) -> object:
    def open_and_track(clock: Clock | None, workdir: Path) -> KombuBroker:
        broker = opener(clock, workdir)  # type: ignore[operator]
        _opened.remove(broker)
        _machine_brokers.append(broker)
        return broker

    return make_state_machine_test(open_and_track, name=name, settings=default_settings(max_examples=25))


_machine_brokers: list[KombuBroker] = []

TestKombuMemoryMachine = _machine(_memory, "KombuMemoryMachine")
TestKombuRedisMachine = pytest.mark.service(_machine(_redis, "KombuRedisMachine"))
TestKombuAmqpMachine = pytest.mark.service(_machine(_amqp, "KombuAmqpMachine"))


def teardown_module() -> None:
    """Remove what the state machines left on the servers."""
    cleanup(_machine_brokers)
