"""After a bench run, nothing it created is left on a shared server (queues, keys, rows)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from queuekit_bench.cli import main
from queuekit_bench.targets import DEFAULT_SERVICES

from queuekit import App

SCENARIOS = "enqueue,ordering,failure,payload"  # queues of every kind: plain, delayed, killed workers, raw


def _bench(service: str, out: Path) -> str:
    """Run the bench on one service; its run id."""
    code = main(["--quick", "--backends", service, "--scenarios", SCENARIOS, "--quiet", "--out", str(out)])
    assert code in (0, 1)  # 1: a measured guarantee broke; the cleanup is still owed
    document = json.loads((out / "results.json").read_text())
    assert document["backends"][0]["status"] == "ok", document["backends"][0]["reason"]
    return str(document["run_id"])


def _queues_of(url: str, run_id: str) -> list[str]:
    app = App(url)
    try:
        return [name for name in app.broker.stats() if run_id in name]
    finally:
        app.close()


def test_redis_keeps_no_key_of_a_bench_run(tmp_path: Path) -> None:
    from tests.redis.servers import shared_url_or_skip

    url = shared_url_or_skip()
    run_id = _bench("redis", tmp_path)
    import redis

    client = redis.Redis.from_url(url)
    try:
        # every name a run gives carries "qkbench" before its run id; a bare *{run_id}* also matched 6 hex
        # digits inside other keys' random ids (another test's 650,000 result keys on the shared server)
        assert [k for k in client.scan_iter(f"*qkbench*{run_id}*", count=1000)] == []
    finally:
        client.close()
    assert _queues_of(DEFAULT_SERVICES["redis"], run_id) == []


def test_rabbitmq_keeps_no_queue_of_a_bench_run(tmp_path: Path) -> None:
    from tests.rabbitmq.servers import rabbitmqctl_or_skip, shared_url_or_skip

    shared_url_or_skip()
    ctl = rabbitmqctl_or_skip()
    run_id = _bench("rabbitmq", tmp_path)
    listed = subprocess.run([ctl, "-q", "list_queues", "name"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert [name for name in listed.stdout.split() if run_id in name] == []


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_sql_keeps_no_row_of_a_bench_run(kind: str, tmp_path: Path) -> None:
    from tests.sql.servers import url_or_skip

    url_or_skip({"mysql": "mariadb"}.get(kind, kind))
    run_id = _bench(kind, tmp_path)
    assert _queues_of(DEFAULT_SERVICES[kind], run_id) == []
