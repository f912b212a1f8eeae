"""Reaching RabbitMQ fails clearly: an unreachable server or a refused login is a typed
error naming the (redacted) URL and the cause, never an empty answer."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import pytest
from queuekit_rabbitmq import AccessRefused, RabbitBroker

from queuekit import cli
from queuekit.broker import Envelope
from queuekit.errors import BrokerError, ConfigurationError, ConnectionLost
from tests.rabbitmq.servers import shared_url_or_skip

SECRET = "s3cret-not-shown"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_status_against_a_closed_port_is_an_error_naming_the_redacted_url(capsys: pytest.CaptureFixture[str]) -> None:
    port = closed_port()
    url = f"amqp://guest:{SECRET}@127.0.0.1:{port}/?connect_timeout=1"
    assert cli.main(["status", "--url", url]) == 1  # the broker failed: 1; 2 is for usage errors
    out, err = capsys.readouterr()
    assert "(no queues" not in out
    assert f"amqp://guest:***@127.0.0.1:{port}/" in err and "could not connect to RabbitMQ" in err
    assert SECRET not in out + err


def outcome_of(call: Callable[[], object], deadline: float = 60) -> BaseException | None:
    """Run ``call`` on a thread; the error it raised, or None. Fails if it is still running at the deadline."""
    raised: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            raised.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(deadline), "it must fail at once, not wait for connect_timeout (3600 s here)"
    return raised[0] if raised else None


def refused_url(problem: str) -> str:
    """The shared server's URL with a wrong password or a missing virtual host; it never times out."""
    parts = urlsplit(shared_url_or_skip())
    host = parts.netloc.rpartition("@")[2]
    if problem == "password":
        netloc, path = f"guest:{SECRET}@{host}", "/%2F"
    else:
        netloc, path = f"guest:guest@{host}", f"/qk-no-such-vhost-{uuid.uuid4().hex[:8]}"
    return urlunsplit((parts.scheme, netloc, path, "connect_timeout=3600", ""))


@pytest.mark.service
@pytest.mark.parametrize(("problem", "reason"), [("password", "ACCESS_REFUSED"), ("vhost", "NOT_ALLOWED")])
@pytest.mark.parametrize("operation", ["enqueue", "stats", "reserve"])
def test_a_refused_login_fails_at_once_with_a_typed_error(problem: str, reason: str, operation: str) -> None:
    broker = RabbitBroker(refused_url(problem))
    queue = f"qk-rmq-{uuid.uuid4().hex[:10]}"
    calls: dict[str, Callable[[], object]] = {
        "enqueue": lambda: broker.enqueue([Envelope(uuid.uuid4().hex, queue, b"x")]),
        "stats": lambda: broker.stats(),
        "reserve": lambda: broker.reserve([queue], 1, 30.0, wait=1.0),
    }
    try:
        first, again = outcome_of(calls[operation]), outcome_of(calls[operation])
    finally:
        broker.close()
    for error in (first, again):  # the second call tries again (credentials may have been fixed) and fails alike
        assert isinstance(error, AccessRefused), repr(error)
        assert isinstance(error, ConfigurationError) and isinstance(error, BrokerError)
        assert reason in str(error) and "guest:***@" in str(error) and SECRET not in str(error)


def test_a_closed_port_retries_within_the_timeout_then_names_the_cause() -> None:
    broker = RabbitBroker(f"amqp://guest:{SECRET}@127.0.0.1:{closed_port()}/?connect_timeout=1")
    try:
        error = outcome_of(lambda: broker.stats(["anything"]))
    finally:
        broker.close()
    assert isinstance(error, ConnectionLost), repr(error)
    assert "Connection refused" in str(error) and "guest:***@127.0.0.1" in str(error)
    assert SECRET not in str(error)
