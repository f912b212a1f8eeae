"""The bench's default service URLs, for tests that need the server behind one."""

from __future__ import annotations

import socket

from queuekit_bench.targets import DEFAULT_SERVICES

from tests.support import service_unavailable


def reachable(service: str) -> str:
    """The bench's default URL of ``service``; fail or skip (see service_unavailable) when nothing listens."""
    url = DEFAULT_SERVICES[service]
    port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError as exc:
        service_unavailable(f"{service} at 127.0.0.1:{port}: {exc}")
    return url
