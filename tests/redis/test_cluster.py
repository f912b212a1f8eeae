"""The conformance kit on a private three-node Redis Cluster (``cluster=true``)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from queuekit_redis import RedisBroker

from queuekit.broker import Durability, Envelope, QueueStats
from queuekit.testing import BrokerContract, Clock, default_settings, make_state_machine_test
from tests.redis.servers import PrivateCluster

pytestmark = [pytest.mark.service, pytest.mark.slow]

_cluster: list[PrivateCluster] = []


@pytest.fixture(autouse=True, scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateCluster]:
    """One cluster for the whole module."""
    started = PrivateCluster(tmp_path_factory.mktemp("cluster"))
    try:
        started.start()
        _cluster.append(started)
        yield started
    finally:
        _cluster.clear()
        started.kill()


def _url(workdir: Path) -> str:
    prefix = "qkt-" + hashlib.sha1(str(workdir).encode()).hexdigest()[:12]
    url = _cluster[0].url
    return f"{url}{'&' if '?' in url else '?'}prefix={prefix}"


def _open(clock: Clock | None, workdir: Path) -> RedisBroker:
    return RedisBroker.from_url(_url(workdir))


class TestRedisClusterBroker(BrokerContract):
    """Every queue's keys in one slot; queues spread over the three nodes."""

    short_lease = 0.5

    def open_broker(self, clock: Clock | None, workdir: Path) -> RedisBroker:
        return _open(clock, workdir)

    def broker_url(self, workdir: Path) -> str:
        return _url(workdir)


TestRedisClusterMachine = pytest.mark.service(
    make_state_machine_test(
        _open, name="RedisClusterMachine", reopen=True, settings=default_settings(max_examples=15)
    )
)


def test_queues_live_on_different_nodes_and_work_together(cluster: PrivateCluster) -> None:
    broker = RedisBroker(cluster.url, prefix="spread")
    client = redis.RedisCluster.from_url(cluster.url.split("?")[0])
    names = [f"q{i}" for i in range(12)]
    nodes = {client.get_node_from_key(broker._keys.queue(name).tag).name for name in names}
    client.close()
    assert len(nodes) > 1, "twelve queues should not all hash to one node"
    sent = [Envelope(f"job-{name}", name, b"x", priority=i % 3) for i, name in enumerate(names)]
    assert broker.enqueue(sent) == [env.id for env in sent]
    got = []
    while batch := broker.reserve(names, 5, 30):
        got.extend(batch)
    assert sorted(d.id for d in got) == sorted(env.id for env in sent)
    broker.ack(got)
    assert broker.stats(names) == {name: QueueStats() for name in names}
    assert broker.stats().keys() == set(names)
    assert broker.capabilities.durability is Durability.NONE
    assert broker.fingerprint is not None and len(broker.fingerprint.run_id.split(",")) == 3
    broker.close()
