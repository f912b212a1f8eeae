"""The shared RabbitMQ on loopback, for tests: reachability, cleanup, cutting connections.

Tests never restart the shared server. They cut connections from the server side with
``rabbitmqctl close_connection`` (only connections this test run named), and delete
every queue and exchange they declared.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable

import pika
from pika.exceptions import AMQPError
from queuekit_rabbitmq.topology import LEVELS, dead_queue, delay_level

from tests.support import service_unavailable

SHARED_URL = os.environ.get("QUEUEKIT_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def shared_url_or_skip() -> str:
    """The shared server's URL; skip the test when it does not answer."""
    params = pika.URLParameters(SHARED_URL)
    params.socket_timeout = 2
    params.connection_attempts = 1
    try:
        pika.BlockingConnection(params).close()
    except (AMQPError, OSError) as exc:
        service_unavailable(f"rabbitmq at 127.0.0.1:5672: {type(exc).__name__}: {exc}")
    return SHARED_URL


def delete_queues(queues: Iterable[str], url: str = SHARED_URL) -> None:
    """Delete work queues with their dead-letter queue and delay ladder."""
    names = list(queues)
    if not names:
        return
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for queue in names:
            channel.queue_delete(queue)
            channel.queue_delete(dead_queue(queue))
            for level in range(LEVELS):
                channel.queue_delete(delay_level(queue, level))
                channel.exchange_delete(delay_level(queue, level))
    finally:
        connection.close()


def rabbitmqctl_or_skip() -> str:
    """Path of rabbitmqctl; skip when it is missing or cannot talk to the node."""
    path = shutil.which("rabbitmqctl")
    if path is None:
        service_unavailable("rabbitmqctl is not installed")
    probe = subprocess.run([path, "-q", "list_connections", "name"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        service_unavailable(f"rabbitmqctl cannot reach the node: {probe.stderr.strip()[:200]}")
    return path


def connections_from(pid: int) -> list[str]:
    """Server-side ids (Erlang pids) of the client connections whose client properties carry ``pid``."""
    ctl = rabbitmqctl_or_skip()
    listing = subprocess.run(
        [ctl, "-q", "list_connections", "pid", "client_properties"], capture_output=True, text=True, timeout=60
    )
    names = []
    for line in listing.stdout.splitlines():
        if f"queuekit pid={pid} " in line:
            names.append(line.split("\t", 1)[0])
    return names


def close_connections(names: Iterable[str]) -> None:
    """Close connections from the server side (as a broker restart or reset would)."""
    ctl = rabbitmqctl_or_skip()
    for name in names:
        done = subprocess.run([ctl, "-q", "close_connection", name, "queuekit test: cut"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"rabbitmqctl close_connection {name} failed: {done.stderr.strip()}"
