"""Reaching RabbitMQ fails clearly: an unreachable server or a refused login is a typed
error naming the (redacted) URL and the cause, never an empty answer."""

from __future__ import annotations

import socket

import pytest

from queuekit import cli

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
    assert cli.main(["status", "--url", url]) == 2
    out, err = capsys.readouterr()
    assert "(no queues yet)" not in out
    assert f"amqp://guest:***@127.0.0.1:{port}/" in err and "cannot reach RabbitMQ" in err
    assert SECRET not in out + err
