"""Issue 12: connection resets under a draining worker on the SQL servers, through a proxy of the test's own.

The worker reaches the shared PostgreSQL or MariaDB through :class:`tests.sql.proxy.Proxy`
(the shared server itself is never cut); the test resets every connection the proxy
carries a few times during a drain, spread by progress. Nothing accepted may be lost,
duplicates stay within what the worker held at each reset (its concurrency plus its
prefetch), and the worker finishes by itself. (RabbitMQ: tests/rabbitmq/test_resets.py.)

A frozen proxy (connections open, no bytes forwarded: a silent server) is noticed only
with a read timeout: MariaDB's driver takes ``read_timeout``/``write_timeout`` in the URL;
PostgreSQL's has no read timeout, so a silent server holds its worker until it speaks
again (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.faults.rig import Rig
from tests.faults.targets import open_target
from tests.sql.proxy import Proxy
from tests.support import wait_until

pytestmark = [pytest.mark.service, pytest.mark.slow]

JOBS = 600
RESETS = 4
CONCURRENCY, PREFETCH = 4, 4


@contextlib.contextmanager
def _through_proxy(kind: str, tmp_path: Path, **options: str) -> Iterator[tuple[Rig, Proxy]]:
    """A rig whose URL (with ``options``) leads through a proxy to the shared server, isolated like any fault target."""
    target = open_target(kind, tmp_path)
    port = urlsplit(target.url).port
    try:
        with Proxy(("127.0.0.1", port or 0)) as proxy:
            url = target.url.replace(f"127.0.0.1:{port}", f"127.0.0.1:{proxy.port}", 1)
            if options:
                url += ("&" if "?" in url else "?") + "&".join(f"{key}={value}" for key, value in options.items())
            rig = Rig(replace(target, url=url, cleanups=[]), tmp_path)
            try:
                yield rig, proxy
            finally:
                rig.close()
    finally:
        target.cleanup()


@pytest.fixture(params=["mariadb", "postgresql", "redis"])
def proxied(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Rig, Proxy]]:
    """A rig on each network server in turn (RabbitMQ: tests/rabbitmq/test_resets.py), through a proxy."""
    with _through_proxy(str(request.param), tmp_path) as made:
        yield made


def test_connection_resets_mid_drain_lose_nothing_and_do_not_hang(proxied: tuple[Rig, Proxy]) -> None:
    rig, proxy = proxied
    rig.enqueue(rig.message("faults.work", f"job{n:04d}", 2.0) for n in range(JOBS))
    worker = rig.worker("--concurrency", str(CONCURRENCY), "--prefetch", str(PREFETCH))
    began = time.monotonic()
    cut = 0
    for step in range(1, RESETS + 1):
        goal = step * JOBS // (RESETS + 2)
        wait_until(lambda g=goal: rig.done() >= g, 120, f"{goal} jobs done")
        wait_until(lambda: proxy.connections >= 1, 60, "the worker to hold a connection")
        cut += proxy.reset()
    wait_until(lambda: rig.done() == JOBS, 120, "the worker to finish the drain after the resets by itself")
    took = time.monotonic() - began
    rig.check_drain(worker, JOBS, f"{rig.target.kind} {RESETS} proxy resets mid-drain",
                    RESETS * (CONCURRENCY + PREFETCH), connections_reset=cut, drain_s=f"{took:.1f}")


def test_a_frozen_mariadb_with_a_read_timeout_is_noticed_and_the_drain_resumes(tmp_path: Path) -> None:
    with _through_proxy("mariadb", tmp_path, read_timeout="2", write_timeout="2") as (rig, proxy):
        rig.enqueue(rig.message("faults.work", f"job{n:04d}", 2.0) for n in range(JOBS))
        worker = rig.worker("--concurrency", str(CONCURRENCY), "--prefetch", str(PREFETCH))
        wait_until(lambda: rig.done() >= JOBS // 3, 120, f"{JOBS // 3} jobs done before the freeze")
        proxy.freeze()
        began = time.monotonic()
        wait_until(lambda: "timed out" in rig.log(worker), 60, "the worker to notice the silent server")
        noticed = time.monotonic() - began
        proxy.thaw()
        wait_until(lambda: rig.done() == JOBS, 120, "the worker to finish the drain after the thaw by itself")
        rig.check_drain(worker, JOBS, "mariadb proxy freeze mid-drain, read_timeout=2", CONCURRENCY + PREFETCH,
                        noticed_after_s=f"{noticed:.1f}")
