"""Connection resets under a draining worker, through a TCP proxy of the test's own.

The worker reaches the shared RabbitMQ through :class:`tests.sql.proxy.Proxy`; the test
resets every connection the proxy carries a number of times during a drain. RabbitMQ
takes back what the dead channel held and delivers it again: a job the worker had not
started yet must not run from the dead channel as well, so the extra runs per reset stay
within the jobs actually running at that moment (the concurrency).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.rabbitmq.servers import delete_queues, shared_url_or_skip
from tests.sql.proxy import Proxy
from tests.support import wait_until

pytestmark = pytest.mark.service

HERE = Path(__file__).parent
JOBS = 3000
RESETS = 10
CONCURRENCY = 8


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.netloc.rpartition('@')[0]}@127.0.0.1:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


class Drain:
    """A queue, a ledger and one worker process that reaches RabbitMQ through a proxy."""

    def __init__(self, tmp: Path, url: str, proxy: Proxy) -> None:
        self.queue = f"qk-resets-{uuid.uuid4().hex[:10]}"
        self.ledger = tmp / "ledger.txt"
        self.log = tmp / "worker.log"
        self.env = {
            **os.environ, "QK_QUEUE": self.queue, "QK_LEDGER": str(self.ledger),
            "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parents[1])]),
        }
        self.url = url
        self.proxied = _through(url, proxy.port)
        self.worker: subprocess.Popen[bytes] | None = None

    def enqueue(self, count: int) -> None:
        code = f"import chaos_app; chaos_app.produce(0, {count})"
        done = subprocess.run([sys.executable, "-c", code], env={**self.env, "QUEUEKIT_BROKER_URL": self.url},
                              cwd=HERE, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()[-2000:]

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.worker = subprocess.Popen(
                [sys.executable, "-m", "queuekit", "worker", "chaos_app:app", "--concurrency", str(CONCURRENCY)],
                env={**self.env, "QUEUEKIT_BROKER_URL": self.proxied, "QK_SLEEP_MS": "1"}, cwd=HERE,
                stdout=out, stderr=subprocess.STDOUT)

    def done(self) -> list[int]:
        if not self.ledger.exists():
            return []
        rows = [line.split() for line in self.ledger.read_text().splitlines()]
        return [int(row[1]) for row in rows if len(row) == 3 and row[0] == "done" and row[2].isdigit()]

    def stop(self) -> int:
        assert self.worker is not None
        if self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
        return self.worker.wait(60)

    def kill(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.kill()
            self.worker.wait(10)


@pytest.fixture
def drain(tmp_path: Path) -> Iterator[Drain]:
    url = shared_url_or_skip()
    with Proxy(("127.0.0.1", urlsplit(url).port or 5672)) as proxy:
        made = Drain(tmp_path, url, proxy)
        made.proxy = proxy  # type: ignore[attr-defined]
        yield made
        made.kill()
    delete_queues([made.queue])


def test_resets_during_a_drain_rerun_at_most_what_was_running(drain: Drain) -> None:
    proxy: Proxy = drain.proxy  # type: ignore[attr-defined]
    drain.enqueue(JOBS)
    drain.start()
    resets = 0
    for step in range(1, RESETS + 1):
        # Spread the resets over the drain by progress, not by time.
        wait_until(lambda s=step: len(set(drain.done())) >= s * JOBS // (RESETS + 2), timeout=120,
                   what=f"{step * JOBS // (RESETS + 2)} jobs done")
        # Both of the worker's connections (publisher and consumer) are up again: reset them.
        wait_until(lambda: proxy.connections >= 2, timeout=30, what="the worker to reconnect")
        assert proxy.reset() >= 2
        resets += 1
    try:
        wait_until(lambda: len(set(drain.done())) == JOBS, timeout=120, what="every job done")
    except AssertionError as exc:
        missing = sorted(set(range(JOBS)) - set(drain.done()))
        raise AssertionError(f"{exc}; {len(missing)} missing, e.g. {missing[:10]}; worker log:\n"
                             f"{drain.log.read_text(errors='replace')[-4000:]}") from None
    assert drain.stop() == 0
    done = drain.done()
    extra = len(done) - JOBS
    log = drain.log.read_text(errors="replace")
    print(f"\n{resets} resets, {JOBS} jobs: {extra} extra runs ({extra / resets:.1f} per reset)")
    assert sorted(set(done)) == list(range(JOBS)), "a job was lost"
    assert extra <= resets * CONCURRENCY, f"{extra} extra runs after {resets} resets"
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
    assert "did not answer" not in log, "a call waited for an answer from a channel that had died"
    warnings = [line for line in log.splitlines() if re.search(r"\bWARNING\b", line)]
    assert len(warnings) <= resets, "\n".join(warnings[:40])
