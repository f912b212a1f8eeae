"""The peers scenario: UDP completions, the adapters on their brokers, goals and the scenario's results."""

from __future__ import annotations

import os
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from queuekit_bench.agents import pythonpath
from queuekit_bench.cleanup import Cleanup
from queuekit_bench.goals import describe, evaluate, peer_goal
from queuekit_bench.peers import PORT_ENV, Peer, Workload
from queuekit_bench.peers.completions import Completions, StalledError, drain_rate, notify, working_rate
from queuekit_bench.peers.dramatiq import DramatiqPeer
from queuekit_bench.peers.pgqueuer import PgqueuerPeer
from queuekit_bench.peers.process import WorkerProcess
from queuekit_bench.peers.queuekit import QueuekitPeer
from queuekit_bench.peers.rq import RqPeer
from queuekit_bench.progress import Progress
from queuekit_bench.runner import Run
from queuekit_bench.scenarios import peers as scenario
from queuekit_bench.schema import validate
from queuekit_bench.settings import Settings
from queuekit_bench.targets import discover

from tests.bench.services import reachable
from tests.support import service_unavailable


@pytest.fixture
def listener() -> Iterator[Completions]:
    found = Completions()
    yield found
    found.close()


def test_each_notify_is_one_timestamped_arrival(listener: Completions, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PORT_ENV, str(listener.port))
    senders = [threading.Thread(target=lambda: [notify() for _ in range(50)]) for _ in range(4)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    arrivals = listener.wait(200, stall=30.0, alive=lambda: None)
    assert len(arrivals) == 200 and arrivals == sorted(arrivals)
    assert {sender for _, sender in arrivals} == {str(os.getpid()).encode()}  # each names its process
    listener.reset()
    assert listener.count == 0


def test_wait_stops_when_the_worker_is_gone_or_nothing_comes(listener: Completions) -> None:
    with pytest.raises(StalledError, match="worker exited after 0 of 5"):
        listener.wait(5, stall=30.0, alive=lambda: "the worker exited")
    with pytest.raises(StalledError, match="no completion for 0 s after 0 of 5"):
        listener.wait(5, stall=0.2, alive=lambda: None)


def test_working_rate_starts_once_every_process_has_completed_a_job() -> None:
    one = [(0.0, b"1"), (1.0, b"1"), (2.0, b"1"), (3.0, b"1")]
    assert drain_rate(one) == working_rate(one) == 1.0
    # process 2 joins at t=1: from then on 6 more completions in 1.5 s
    two = [(0.0, b"1"), (0.5, b"1"), (1.0, b"2"), (1.25, b"1"), (1.5, b"2"), (1.75, b"1"), (2.0, b"2"),
           (2.25, b"1"), (2.5, b"2")]
    assert working_rate(two) == 6 / 1.5
    late = [*one, (3.0, b"2")]  # joined for the last job only: the whole span counts
    assert working_rate(late) == drain_rate(late) == 4 / 3.0


def test_worker_process_stop_ends_its_whole_group(tmp_path: Path) -> None:
    # The leader starts a child that would outlive it; stop() signals the group the leader leads.
    script = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); " \
             "print('started', flush=True); time.sleep(60)"
    worker = WorkerProcess([sys.executable, "-c", script], dict(os.environ), tmp_path / "w.log")
    group = worker.process.pid
    assert worker.exited() is None
    worker.stop(grace=5.0)
    assert worker.exited() is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)


# -- goals and the peer ratio ----------------------------------------------------------------


def _figure(median: float, ratio: float | None = None) -> dict[str, Any]:
    return {"median": median, "ratio": None if ratio is None else {"median": ratio}}


def test_goals_apply_per_broker_and_read_the_right_part() -> None:
    entry = {"url": "redis://127.0.0.1:6379/0", "scenarios": {
        "enqueue": {"status": "ok", "figures": {"delay": _figure(9000.0, 0.85), "enqueue_many": _figure(1.0, 0.5)}},
        "latency": {"status": "ok", "figures": {"start_p50": _figure(2.5)}},
        "peers": {"status": "ok", "figures": {}, "versus": {"drain": {"ratio": {"median": 10.5}}}},
    }}
    verdicts = {(row["goal"], row["met"]) for row in evaluate(entry)}
    assert verdicts == {("task.delay vs raw single command", True), ("enqueue_many vs raw pipelined", False),
                        ("latency p50 at 200 jobs/s", False), ("drain vs fastest peer", True)}
    entry["url"] = "postgresql://u@h/db"  # the same figures judged by PostgreSQL's bounds
    assert {(r["goal"], r["bound"], r["met"]) for r in evaluate(entry)} == {
        ("task.delay vs raw single command", 0.8, True), ("enqueue_many vs raw executemany", 0.8, False),
        ("latency p50 at 200 jobs/s", 5.0, True), ("drain vs fastest peer", 5.0, True)}
    entry["scenarios"]["peers"] = {"status": "failed", "reason": "x", "seconds": 1}
    assert "drain vs fastest peer" not in {row["goal"] for row in evaluate(entry)}  # not measured: not listed
    assert (peer_goal("drain", "redis"), peer_goal("drain", "amqp"), peer_goal("drain", "sqlite")) == (10.0, 3.0, None)


def test_an_enqueue_many_goal_states_the_ceiling_its_building_leaves() -> None:
    figures = {"enqueue_many": _figure(1.0, 0.44), "delay": _figure(1.0, 0.9)}
    entry = {"url": "redis://127.0.0.1:6379/0", "scenarios": {"enqueue": {"status": "ok", "figures": figures}}}
    assert all("ceiling" not in row for row in evaluate(entry))  # no build figure in this run: no ceiling
    figures["build"] = _figure(1.0, 0.8)  # building alone takes 1.25x the raw client's whole batch
    rows = {row["goal"]: row for row in evaluate(entry)}
    many = rows["enqueue_many vs raw pipelined"]
    assert many["building"] == 0.8 and abs(many["ceiling"] - 0.8 / 1.8) < 1e-9
    assert "at most 0.44x even if sending matched the raw client" in describe(many)
    assert "ceiling" not in rows["task.delay vs raw single command"]  # delay names no building figure


def test_versus_pairs_queuekit_with_the_fastest_peer() -> None:
    samples = {"queuekit": [100.0, 200.0, 300.0], "slow": [1.0, 1.0, 1.0], "fast": [10.0, 20.0, 10.0]}
    found = scenario._versus(samples, ["queuekit", "slow", "fast"], 5.0)
    assert found is not None
    assert found["peer"] == "fast" and found["ratio"]["samples"] == [10.0, 10.0, 30.0]
    assert found["ratio"]["median"] == 10.0 and found["met"] is True
    assert scenario._versus({"queuekit": [1.0]}, ["queuekit"], 5.0) is None  # no peer ran


# -- the scenario on SQLite (queuekit only: no peer runs on SQLite) -----------------------------


class _Missing:
    """A peer that is not installed."""

    name, dist, schemes, batch, max_jobs = "ghost", "ghost", ("sqlite",), False, None

    def missing(self) -> str | None:
        return 'ghost is not installed: pip install "queuekit[peers]"'


def test_peers_scenario_on_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scenario, "peers_for", lambda scheme: [_Missing()])
    settings = Settings(profile="quick", scenarios=("peers",), repeats=1, peer_jobs=40, process_jobs=200,
                        seed=1)
    targets = discover(["memory", "sqlite"], tmp_path, "tp")
    document = Run(settings, targets, workdir=tmp_path, run_id="tp", progress=Progress(quiet=True),
                   cleanup=Cleanup()).execute()
    assert validate(document) == []
    memory, sqlite = document["backends"]
    assert memory["scenarios"]["peers"]["status"] == "skipped"
    assert "inside one process" in memory["scenarios"]["peers"]["reason"]
    found = sqlite["scenarios"]["peers"]
    assert found["status"] == "ok", found.get("reason")
    assert found["failed"] == {}
    assert found["skipped"] == {"ghost": 'ghost is not installed: pip install "queuekit[peers]"'}
    assert set(found["figures"]) == {"drain_queuekit", "enqueue_queuekit", "batch_queuekit",
                                     "drain_queuekit_processes_2"}
    assert all(f["median"] > 0 for f in found["figures"].values())
    assert found["figures"]["drain_queuekit_processes_2"]["raw"]["client"] == "queuekit worker, 1 process"
    assert found["versus"] == {}  # no peer ran, so no ratio
    assert [row["goal"] for row in sqlite["goals"]] == ["drain, jobs/s"]


# -- each adapter on its broker ---------------------------------------------------------------


def _drain_once(peer: Peer, url: str, listener: Completions, tmp_path: Path, jobs: int = 30) -> Workload:
    """Enqueue ``jobs`` one by one, run the peer's worker until every completion arrived; clean up."""
    queue = f"qkbench-test-{uuid.uuid4().hex[:8]}"
    work = Workload(url=url, queue=queue, port=listener.port, prefix=f"{queue}-ns")
    peer.setup(work)
    try:
        peer.enqueue(work, jobs)
        env = {**os.environ, "PYTHONPATH": pythonpath(), **work.env(), **peer.env(work)}
        worker = WorkerProcess(peer.command(work), env, tmp_path / f"{peer.name}.log")
        try:
            arrivals = listener.wait(jobs, stall=60.0, alive=worker.exited)
        finally:
            worker.stop()
        assert len(arrivals) == jobs
        if peer.batch:
            peer.enqueue_batch(work, 25, 10)
    finally:
        peer.teardown(work)
    return work


PEER_CASES = [("dramatiq", "redis"), ("dramatiq", "rabbitmq"), ("rq", "redis"), ("pgqueuer", "postgresql"),
              ("queuekit", "redis"), ("queuekit", "rabbitmq"), ("queuekit", "postgresql")]


@pytest.mark.service
@pytest.mark.parametrize(("name", "service"), PEER_CASES)
def test_adapter_drains_on_its_broker_and_cleans_up(name: str, service: str, listener: Completions,
                                                    tmp_path: Path) -> None:
    url = reachable(service)
    peer: Peer = {"dramatiq": DramatiqPeer, "rq": RqPeer, "pgqueuer": PgqueuerPeer, "queuekit": QueuekitPeer}[name]()
    reason = peer.missing()
    if reason is not None:
        service_unavailable(reason)
    work = _drain_once(peer, url, listener, tmp_path)
    assert _leftovers(service, work) == []


def _leftovers(service: str, work: Workload) -> list[str]:
    """What the run left on the server under its queue name or prefix."""
    if service == "redis":
        import redis

        client = redis.Redis.from_url(work.url)
        try:
            known = [m.decode() for m in client.smembers("rq:queues") if work.queue in m.decode()]  # RQ's registry
            return known + [k.decode() for k in client.scan_iter(match=f"*{work.queue}*", count=1000)]
        finally:
            client.close()
    if service == "postgresql":
        import psycopg

        prefix = "".join(c if c.isalnum() else "_" for c in work.prefix).lower()
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as db:
            rows = db.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE %s", (prefix + "%",)).fetchall()
        return [row[0] for row in rows]
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(work.url))
    left = []
    try:
        for name in (work.queue, f"{work.queue}.DQ", f"{work.queue}.XQ"):
            channel = connection.channel()
            try:
                channel.queue_declare(name, passive=True)
                left.append(name)
            except pika.exceptions.ChannelClosedByBroker:
                pass
    finally:
        connection.close()
    return left


# -- the enqueue scenario's API modes ------------------------------------------------------------


def test_agent_delay_from_threads_and_enqueue_many_enqueue_every_job_and_build_sends_none() -> None:
    from queuekit_bench.agent import AgentCore

    core = AgentCore(f"memory://qkbench-test-{uuid.uuid4().hex[:8]}")
    try:
        reply = core.produce({"queue": "threads", "count": 41, "mode": "delay", "threads": 8})
        assert reply["count"] == 41 and reply["t_end"] >= reply["t_start"]
        reply = core.produce({"queue": "many", "count": 2500, "mode": "enqueue_many", "batch": 1000})
        reply = core.produce({"queue": "built", "count": 1500, "mode": "build", "batch": 1000})
        assert reply["count"] == 1500 and reply["t_end"] >= reply["t_start"]
        stats = core.app.broker.stats(["threads", "many", "built"])
        assert (stats["threads"].ready, stats["many"].ready, stats["built"].ready) == (41, 2500, 0)
    finally:
        core.close()
