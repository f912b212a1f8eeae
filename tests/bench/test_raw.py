"""Raw-client baselines: each pushes, pops and cleans up after itself on its server."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from queuekit_bench.raw import RawUnavailable, open_raw
from queuekit_bench.targets import DEFAULT_SERVICES

from tests.bench.services import reachable
from tests.support import service_unavailable


def _drain(url: str, name: str) -> int:
    queue = open_raw(url, name, "disk")
    try:
        queue.push([b"one"])
        queue.push([b"x" * 100] * 9)
        taken = queue.pop_ack(4)
        while True:
            got = queue.pop_ack(3)
            if not got:
                break
            taken += got
        assert queue.client  # names the library (and version)
        return taken
    finally:
        queue.close()


def test_embedded_baselines(tmp_path: Path) -> None:
    assert _drain("memory://x", "t") == 10
    assert _drain(f"sqlite:///{tmp_path / 'b.db'}", "t") == 10
    assert (tmp_path / "b-raw.db").exists()  # its own file beside the backend's


def test_sqlite_baseline_follows_the_url_or_durability(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    assert "synchronous=FULL" in open_raw(url, "a", "disk").client
    assert "synchronous=NORMAL" in open_raw(url, "b", "server").client
    assert "synchronous=OFF" in open_raw(url + "?synchronous=off", "c", "disk").client
    with pytest.raises(RawUnavailable, match="synchronous=sometimes"):
        open_raw(url + "?synchronous=sometimes", "d", "disk")


def test_unknown_scheme_has_no_baseline() -> None:
    with pytest.raises(RawUnavailable, match="no raw baseline for kombu"):
        open_raw("kombu+sqs://", "t")


@pytest.mark.service
@pytest.mark.parametrize("service", sorted(DEFAULT_SERVICES))
def test_service_baselines(service: str) -> None:
    url = reachable(service)
    try:
        assert _drain(url, f"t{uuid.uuid4().hex[:8]}") == 10
    except RawUnavailable as exc:
        pytest.skip(f"capability not declared: {exc}")


@pytest.mark.service
def test_amqp_baseline_deletes_its_queue_after_its_connection_dropped() -> None:
    url = reachable("rabbitmq")
    try:
        import pika
    except ImportError as exc:
        service_unavailable(f"pika: {exc}")
    queue = open_raw(url, f"t{uuid.uuid4().hex[:8]}")
    queue.push([b"one"])
    queue._conn.close()  # type: ignore[attr-defined]  # as the server does to an idle connection that missed heartbeats
    queue.close()
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker):
            connection.channel().queue_declare(queue.queue, passive=True)  # type: ignore[attr-defined]
    finally:
        connection.close()
