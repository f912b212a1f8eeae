"""The conformance kit, state machine included, on the shared RabbitMQ (classic and quorum queues)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from queuekit_rabbitmq import RabbitBroker

from queuekit.broker import Delivery
from queuekit.testing import BrokerContract, Clock, default_settings, make_state_machine_test
from tests.rabbitmq.servers import delete_queues, shared_url_or_skip

pytestmark = pytest.mark.service

_opened: list[RabbitBroker] = []


def _open(clock: Clock | None, workdir: Path, query: str = "") -> RabbitBroker:
    broker = RabbitBroker(shared_url_or_skip() + query)
    _opened.append(broker)
    return broker


def _open_quorum(clock: Clock | None, workdir: Path) -> RabbitBroker:
    return _open(clock, workdir, "?queue_type=quorum")


@pytest.fixture(autouse=True)
def _delete_test_queues() -> Iterator[None]:
    yield
    names = {name for broker in _opened for name in broker.topology.known_queues()}
    for broker in _opened:
        broker.close()
    _opened.clear()
    delete_queues(names)


class TestRabbitBroker(BrokerContract):
    """Classic queues: priorities, delays by TTL ladder; no lease expiry, no dedup."""

    short_lease = 0.5

    def open_broker(self, clock: Clock | None, workdir: Path) -> RabbitBroker:
        return _open(clock, workdir)

    def broker_url(self, workdir: Path) -> str:
        return shared_url_or_skip()


class TestRabbitBrokerQuorum(BrokerContract):
    """Quorum queues: replicated; no priorities on RabbitMQ 3.10."""

    short_lease = 0.5

    def open_broker(self, clock: Clock | None, workdir: Path) -> RabbitBroker:
        return _open_quorum(clock, workdir)

    def broker_url(self, workdir: Path) -> str:
        return shared_url_or_skip() + "?queue_type=quorum"


def _open_for_machine(clock: Clock | None, workdir: Path) -> RabbitBroker:
    broker = _open(clock, workdir)
    _opened.remove(broker)  # the machine closes its own; queues are deleted below
    _machine_queues.append(broker)
    return broker


_machine_queues: list[RabbitBroker] = []

# The machine's reserves are non-blocking, which this backend serves with basic.get: exact
# counts and order, so strict_counts stays on.
TestRabbitMachine = pytest.mark.service(
    make_state_machine_test(
        _open_for_machine, name="RabbitMachine", settings=default_settings(max_examples=25)
    )
)


class ConsumingBroker(RabbitBroker):
    """Serves every reserve from the consumer's prefetch buffer (the worker's path), not basic.get."""

    def reserve(self, queues: Sequence[str], limit: int, lease: float, wait: float = 0.0) -> list[Delivery]:
        if queues and limit > 0:
            self.consumer.subscribe(queues, limit)
        return super().reserve(queues, limit, lease, wait)


def _open_consuming(clock: Clock | None, workdir: Path) -> RabbitBroker:
    broker = ConsumingBroker(shared_url_or_skip())
    _machine_queues.append(broker)
    return broker


TestRabbitConsumingMachine = pytest.mark.service(
    make_state_machine_test(
        _open_consuming, name="RabbitConsumingMachine", settings=default_settings(max_examples=25)
    )
)


def teardown_module() -> None:
    """Delete the queues the state machine declared."""
    delete_queues({name for broker in _machine_queues for name in broker.topology.known_queues()})
