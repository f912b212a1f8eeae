"""Servers that accept TCP and never answer, and connections that go silent mid-run.

A producer against a black hole (a port of the test's own that accepts and never
answers) fails with one line of :class:`ConnectionLost` that names the server (password
masked) and the URL option that sets the bound: once per network broker at the default
bound (about 10 s), and once with the bound lowered through that option, which takes the
same path in a second. The timings asserted are ceilings far above the defaults: the
point is that the wait ends, not how fast.

A worker whose connection goes silent (the test proxy stops forwarding, every socket
stays open) says so at WARNING, naming the broker, within two leases; when traffic flows
again it goes on, and every job is done.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from queuekit import App, Worker
from queuekit.cli import main as queuekit_cli
from queuekit.errors import ConnectionLost
from tests.sql.proxy import Proxy
from tests.support import BlackHole, wait_until

CEILING = 60.0  # seconds: far above every default bound, so a loaded machine never trips it
SECRET = "s3cret-pw"


@dataclass(frozen=True)
class Case:
    """How to point a broker at the black hole, and the URL option that bounds the wait."""

    scheme: str
    credentials: str
    path: str
    option: str  # named in the error message
    lowered: str  # the same bound, lowered in the URL query


CASES = {
    "redis": Case("redis", f":{SECRET}", "/0", "socket_timeout", "socket_timeout=1"),
    "postgresql": Case("postgresql", f"qk:{SECRET}", "/test", "connect_timeout", "connect_timeout=2"),
    "mariadb": Case("mysql", f"qk:{SECRET}", "/test", "read_timeout", "read_timeout=1"),
    "rabbitmq": Case("amqp", f"qk:{SECRET}", "/", "connect_timeout", "connect_timeout=1"),
    "kombu-redis": Case("kombu+redis", f":{SECRET}", "/0", "socket_timeout", "socket_timeout=1"),
}


@pytest.fixture
def cli_logging() -> Iterator[None]:
    """The command line installs its log handler on the root logger: put things back after."""
    root, own = logging.getLogger(), logging.getLogger("queuekit")
    saved = (root.level, list(root.handlers), own.level)
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    own.setLevel(saved[2])


@pytest.fixture
def hole() -> Iterator[BlackHole]:
    """A black hole of this test's own."""
    with BlackHole() as made:
        yield made


def _delay_against(hole: BlackHole, kind: str, query: str) -> tuple[ConnectionLost, float]:
    case = CASES[kind]
    url = hole.url(case.scheme, case.credentials, case.path) + (f"?{query}" if query else "")
    app = App(url)

    @app.task
    def noop() -> None:
        """Never runs."""

    started = time.monotonic()
    try:
        with pytest.raises(ConnectionLost) as caught:
            noop.delay()
    finally:
        app.close()
    return caught.value, time.monotonic() - started


def _check_message(message: str, hole: BlackHole, kind: str) -> None:
    assert f"127.0.0.1:{hole.port}" in message, message  # names the server
    assert SECRET not in message, message  # the password masked
    assert CASES[kind].option in message, message  # and what changes the bound
    assert "\n" not in message, message


@pytest.mark.parametrize("kind", list(CASES))
def test_a_producer_against_a_black_hole_fails_within_the_default_bound(hole: BlackHole, kind: str) -> None:
    error, took = _delay_against(hole, kind, "")
    _check_message(str(error), hole, kind)
    assert hole.accepted >= 1  # it did reach the port: the wait was for an answer
    assert took < CEILING, f"{kind}: delay() took {took:.1f}s against a server that never answers"


@pytest.mark.parametrize("kind", list(CASES))
def test_the_bound_is_set_by_the_url_option_the_error_names(hole: BlackHole, kind: str) -> None:
    error, took = _delay_against(hole, kind, CASES[kind].lowered)
    _check_message(str(error), hole, kind)
    assert took < CEILING


@pytest.mark.parametrize("kind", list(CASES))
def test_status_against_a_black_hole_is_a_one_line_error(
    hole: BlackHole, kind: str, capsys: pytest.CaptureFixture[str], cli_logging: None
) -> None:
    case = CASES[kind]
    url = f"{hole.url(case.scheme, case.credentials, case.path)}?{case.lowered}"
    assert queuekit_cli(["status", "--url", url]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("queuekit: error: ") and "\n" not in err, err
    _check_message(err, hole, kind)


# -- a worker on a connection that goes silent ------------------------------------------------

LEASE = 10.0  # the worker's lease in these tests; the silence must be noticed within two


def _frozen_target(kind: str, queue: str) -> tuple[str, str, Proxy, list[Callable[[], None]]]:
    """(direct URL, URL through a proxy with low bounds, the proxy, cleanups) on a shared server."""
    cleanups: list[Callable[[], None]] = []
    if kind == "rabbitmq":
        from tests.rabbitmq.servers import delete_queues, shared_url_or_skip

        direct = shared_url_or_skip()
        cleanups.append(lambda: delete_queues([queue]))
        bounds = "heartbeat=1&connect_timeout=2"  # pika closes a silent connection after 6-12 s
    elif kind in ("postgresql", "mariadb"):
        from tests.sql.servers import drop_prefix, unique_prefix, url_or_skip, with_prefix

        prefix = unique_prefix()
        direct = with_prefix(url_or_skip(kind), prefix)
        cleanups.append(lambda: drop_prefix(kind, prefix))
        bounds = "connect_timeout=2&read_timeout=2"
    else:
        from tests.redis.servers import delete_prefix, shared_url_or_skip, unique_prefix

        shared, prefix = shared_url_or_skip(), unique_prefix()
        direct = f"{shared}?prefix={prefix}"
        cleanups.append(lambda: delete_prefix(shared, prefix))
        bounds = "socket_connect_timeout=2&socket_timeout=2"
    port = urlsplit(direct).port or 0
    proxy = Proxy(("127.0.0.1", port))
    proxied = direct.replace(f"127.0.0.1:{port}", f"127.0.0.1:{proxy.port}", 1)
    proxied += f"{'&' if '?' in proxied else '?'}{bounds}"
    return direct, proxied, proxy, cleanups


@pytest.mark.service
@pytest.mark.parametrize("kind", ["postgresql", "mariadb", "redis", "rabbitmq"])
def test_a_worker_on_a_frozen_connection_says_so_and_recovers(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    queue = f"silent-{uuid.uuid4().hex[:10]}"
    direct, proxied, proxy, cleanups = _frozen_target(kind, queue)
    done: list[int] = []
    lock = threading.Lock()
    apps = {name: App(url, lease=LEASE) for name, url in (("worker", proxied), ("producer", direct))}
    for app in apps.values():

        @app.task(name="silent.record", queue=queue)
        def record(n: int) -> None:
            """Note that job ``n`` ran."""
            with lock:
                done.append(n)

    producer = apps["producer"].tasks["silent.record"]
    worker = Worker(apps["worker"], queues=[queue], concurrency=2, poll=0.5)
    thread = worker.start()
    try:
        for n in range(10):
            producer.enqueue(args=(n,))
        wait_until(lambda: len(set(done)) == 10, timeout=30, what="the first jobs to run")
        caplog.clear()
        caplog.set_level(logging.WARNING, logger="queuekit")
        proxy.freeze()
        frozen = time.monotonic()
        for n in range(10, 20):
            producer.enqueue(args=(n,))  # accepted by the server directly, past the frozen proxy

        def warned() -> bool:
            return any(f"127.0.0.1:{proxy.port}" in r.getMessage() and r.levelno == logging.WARNING
                       for r in caplog.records)

        wait_until(warned, timeout=2 * LEASE, what="a WARNING naming the silent broker")
        noticed = time.monotonic() - frozen
        proxy.thaw()
        thawed = time.monotonic()
        wait_until(lambda: set(done) == set(range(20)), timeout=4 * LEASE, what="every job to run after the thaw")
        recovered = time.monotonic() - thawed
    finally:
        proxy.thaw()
        worker.stop()
        thread.join(30)
        proxy.cut()
        for app in apps.values():
            app.close()
        for step in cleanups:
            step()
    assert set(done) == set(range(20))  # nothing lost (a job may have run twice after a lapsed lease)
    print(f"{kind}: silence noticed after {noticed:.1f}s, all jobs done {recovered:.1f}s after the thaw")
