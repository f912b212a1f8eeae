"""Delivery under failure: SIGKILL worker processes at random moments, then count what was lost.

Two workers run jobs of 1-20 ms. A chaos loop kills a random worker with SIGKILL
several times at random intervals (from a logged seed) and starts a replacement. The
ledger, kept in files outside the broker, then says which accepted jobs never
finished (lost), which finished more than once (duplicated), and how long after the
last kill the backlog was drained.

The wait for the drain ends early only when nothing can finish any more
(:class:`Settled`): no job is ready, delayed or in flight as the harness *and every live
worker process* see the queue, twice in a row with no job finished in between. A broker
may count in flight only what the asking process holds (RabbitMQ does), so the harness
alone would see a job a live worker is running as gone, and count it as lost.

A broker that lives inside the worker's process (``memory://``) cannot be shared, so
its run puts producer, broker and worker into one process and kills that once: the
result is what such a crash costs (everything not yet done).
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from queuekit_bench.agents import Agent, AgentProcess, BenchError, ask
from queuekit_bench.context import BackendRun, all_done
from queuekit_bench.ledger import Ledger, account, read_ledger, redelivery_delays
from queuekit_bench.stats import latency_summary

WORKERS = 2


def run(ctx: BackendRun) -> dict[str, Any]:
    """Ledger accounting (lost, duplicated, ...), kills, seed, drain time and redelivery delays."""
    s = ctx.settings
    seed = ctx.rng.randrange(2**32)
    ctx.say(f"failure: {s.failure_jobs} jobs, {s.failure_kills} SIGKILLs, seed {seed}")
    rng = random.Random(seed)
    if not ctx.cross_process:
        return {"seed": seed, **_in_process(ctx, rng)}
    return {"seed": seed, **_chaos(ctx, rng)}


def _start(ctx: BackendRun, name: str, queue: str, folder: Path) -> AgentProcess:
    s = ctx.settings
    agent = ctx.spawn(name, lease=s.failure_lease)
    ask(agent, {"op": "work", "queue": queue, "burst": False, "concurrency": 2, "prefetch": 2,
                "lease": s.failure_lease, "poll": 0.2, "ledger": ctx.ledger_path(folder, agent)})
    return agent


def _chaos(ctx: BackendRun, rng: random.Random) -> dict[str, Any]:
    s = ctx.settings
    queue = ctx.queue("failure")
    folder = ctx.folder("failure")
    sleeps = [rng.uniform(1.0, 20.0) for _ in range(s.failure_jobs)]
    ctx.producer.produce({"queue": queue, "count": s.failure_jobs, "mode": "batch", "batch": 200, "tracked": True,
                          "producer": "f", "sleep_ms": sleeps, "ledger": str(folder / "producer.ledger")})
    began = time.time()
    agents = [_start(ctx, f"victim{i}", queue, folder) for i in range(WORKERS)]
    kills: list[tuple[int, float]] = []
    try:
        for number in range(s.failure_kills):
            time.sleep(rng.uniform(0.2, 1.0))
            if all_done(s.failure_jobs)(read_ledger(folder)):
                break  # nothing left to interrupt: further kills would measure nothing
            slot = rng.randrange(len(agents))
            pid = agents[slot].pid
            kills.append((pid, agents[slot].kill()))
            ctx.progress.bar(number + 1, s.failure_kills, "kills")
            agents[slot] = _start(ctx, f"victim{WORKERS + number}", queue, folder)
        last_kill = kills[-1][1] if kills else began
        timeout = s.failure_lease * 4 + 60.0
        ledger = ctx.wait_for(folder, all_done(s.failure_jobs), timeout, give_up=Settled(ctx, queue, folder, agents))
        drained = all_done(s.failure_jobs)(ledger)
        finished_at = max((e.t for e in ledger.dones), default=last_kill)
    finally:
        for agent in agents:
            agent.close()
    leftover = ctx.app.broker.stats([queue]).get(queue)
    dead = ctx.app.broker.dead_letters(queue, limit=1000)
    return {
        "mode": "worker processes killed", "workers": WORKERS, "lease_s": s.failure_lease,
        "kills": [{"pid": pid, "t": t} for pid, t in kills],
        "drained": drained,
        "drain_after_last_kill_s": max(finished_at - last_kill, 0.0) if drained else None,
        "elapsed_s": finished_at - began,
        "redelivery_ms": latency_summary([d * 1000.0 for d in redelivery_delays(ledger, kills)]),
        "left_in_broker": None if leftover is None else dataclasses.asdict(leftover),
        "dead_lettered": len(dead), "dead_reasons": sorted({d.reason[:120] for d in dead})[:5],
        **account(ledger).as_dict(),
    }


class Harness(Protocol):
    """What :class:`Settled` needs of the run: the harness's own view of a queue."""

    def settled(self, queue: str) -> bool:
        """True when the harness sees no ready, delayed or in-flight job of ``queue``."""
        ...


class Settled:
    """``give_up`` for the drain wait: True once no accepted job can still finish.

    Each call asks the harness and every live worker agent for the queue's counts; a
    worker process counts what it has prefetched or reserved, which the harness may not
    see. Only the second such "nothing anywhere" in a row, with no new finish between the
    two, counts: a job moving between views meanwhile (a redelivery being counted and
    republished, a killed worker's deliveries on their way back) shows up in one of them.
    """

    def __init__(self, harness: Harness, queue: str, folder: Path, agents: Sequence[Agent]) -> None:
        self.harness = harness
        self.queue = queue
        self.folder = folder
        self.agents = agents  # the live workers; the scenario replaces killed ones in place
        self._finished_when_idle: int | None = None

    def __call__(self) -> bool:
        finished = len(read_ledger(self.folder).dones)
        idle = self.idle()
        seen_before, self._finished_when_idle = self._finished_when_idle, finished if idle else None
        return idle and seen_before == finished

    def idle(self) -> bool:
        """True when neither the harness nor any live worker sees a job of the queue."""
        if not self.harness.settled(self.queue):
            return False
        return all(_holds_nothing(agent, self.queue) for agent in self.agents)


def _holds_nothing(agent: Agent, queue: str) -> bool:
    """True when ``agent`` sees no ready, delayed or in-flight job of ``queue``, or has exited.

    An exited agent's deliveries go back to the broker with its connection or lease,
    where the harness sees them.
    """
    try:
        counts = ask(agent, {"op": "stats", "queue": queue}, timeout=60.0)
    except BenchError:
        if isinstance(agent, AgentProcess) and agent.process.poll() is not None:
            return True
        raise
    return not (counts.get("ready") or counts.get("delayed") or counts.get("in_flight"))


def _in_process(ctx: BackendRun, rng: random.Random) -> dict[str, Any]:
    s = ctx.settings
    folder = ctx.folder("failure")
    host = ctx.spawn("host", lease=s.failure_lease, url=f"memory://qkbench-host-{ctx.run_id}")
    queue = f"qkbench-{ctx.run_id}-failure"
    sleeps = [rng.uniform(1.0, 20.0) for _ in range(s.failure_jobs)]
    try:
        ask(host, {"op": "produce", "queue": queue, "count": s.failure_jobs, "mode": "batch", "batch": 200,
                   "tracked": True, "producer": "f", "sleep_ms": sleeps,
                   "ledger": str(folder / f"producer-{host.pid}.ledger")})
        ask(host, {"op": "work", "queue": queue, "burst": False, "concurrency": 2, "prefetch": 2,
                   "ledger": ctx.ledger_path(folder, host)})
        time.sleep(rng.uniform(0.2, 1.0))
        killed = host.kill()
    finally:
        host.close()
    ledger: Ledger = read_ledger(folder)
    return {
        "mode": "broker, producer and worker in one process, killed once", "workers": 1,
        "lease_s": s.failure_lease, "kills": [{"pid": host.pid, "t": killed}], "drained": False,
        "drain_after_last_kill_s": None, "elapsed_s": None, "redelivery_ms": {"count": 0},
        "left_in_broker": None, "dead_lettered": 0, "dead_reasons": [], **account(ledger).as_dict(),
    }
