"""Durability declared from the server's persistence settings; lost state detected."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest
from queuekit_redis import RedisBroker

from queuekit.broker import Durability, Envelope, QueueStats
from queuekit.errors import ConnectionLost
from tests.redis.servers import PrivateRedis

pytestmark = pytest.mark.service


def env(queue: str) -> Envelope:
    return Envelope(uuid.uuid4().hex, queue, b"x")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ([], Durability.NONE),
        (["--save", "3600 1"], Durability.SERVER),
        (["--appendonly", "yes"], Durability.SERVER),
        (["--appendonly", "yes", "--appendfsync", "always"], Durability.DISK),
        (["--appendonly", "yes", "--appendfsync", "always", "--maxmemory-policy", "allkeys-lru"], Durability.NONE),
    ],
)
def test_durability_follows_the_persistence_settings(tmp_path: Path, extra: list[str], expected: Durability) -> None:
    server = PrivateRedis(tmp_path, extra)
    server.start()
    try:
        broker = RedisBroker(server.url)
        assert broker.capabilities.durability is expected
        assert broker.fingerprint is not None and expected.value in broker.fingerprint.describe()
        broker.close()
    finally:
        server.kill()


def test_no_persistence_is_said_plainly(private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="queuekit.redis"):
        assert RedisBroker(private_redis.url).capabilities.durability is Durability.NONE
    text = caplog.text
    assert "durability: none" in text
    assert "a server restart loses every queued job" in text


def test_no_persistence_is_not_logged_to_producers_but_once_by_a_worker(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    from queuekit import App

    app = App(private_redis.url)

    @app.task
    def noop() -> None:
        """Nothing."""

    try:
        with caplog.at_level(logging.INFO):
            noop.delay()
            assert [r for r in caplog.records if r.levelno >= logging.INFO] == []
            assert app.worker(burst=True).run(install_signals=False) == 0
        started = [r.getMessage() for r in caplog.records if "worker started" in r.getMessage()]
        assert len(started) == 1 and "durability=none (a broker restart loses queued jobs)" in started[0]
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    finally:
        app.close()


def test_unreachable_server_promises_no_durability_until_it_answers(tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path, ["--appendonly", "yes"])
    broker = RedisBroker(server.url, retries=0)
    assert broker.capabilities.durability is Durability.NONE
    server.start()
    try:
        assert broker.capabilities.durability is Durability.SERVER
    finally:
        server.kill()


def test_restart_without_persistence_is_detected_and_reported(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    broker = RedisBroker(private_redis.url, retries=0)
    broker.enqueue([env("q"), env("q")])
    assert broker.stats(["q"])["q"] == QueueStats(ready=2)
    private_redis.kill()
    with pytest.raises(ConnectionLost):
        broker.enqueue([env("q")])
    private_redis.start()
    with caplog.at_level(logging.WARNING, logger="queuekit.redis"):
        broker.enqueue([env("q")])
        broker.enqueue([env("q")])
    [reset] = broker.resets
    assert (reset.queue, reset.last_known_backlog) == ("q", 2)
    assert reset.old_epoch != reset.new_epoch
    assert "lost the data of queue 'q'" in caplog.text
    assert "restarted (new run_id)" in caplog.text
    assert broker.stats(["q"])["q"] == QueueStats(ready=2), "the broker works again after the restart"
    assert RedisBroker(private_redis.url).resets == [], "a client that never saw the old data reports nothing"


def test_restart_with_aof_keeps_jobs_and_reports_no_loss(tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path, ["--appendonly", "yes", "--appendfsync", "always"])
    server.start()
    try:
        broker = RedisBroker(server.url)
        sent = [env("q") for _ in range(5)]
        broker.enqueue(sent)
        [held] = broker.reserve(["q"], 1, 3600)
        server.restart()  # SIGKILL: appendfsync always has every acknowledged write on disk
        broker.enqueue([env("q")])
        assert broker.resets == []
        assert broker.stats(["q"])["q"] == QueueStats(ready=5, in_flight=1)
        broker.ack([held])
        assert broker.stats(["q"])["q"] == QueueStats(ready=5)
    finally:
        server.kill()
