"""Delivery under failure: SIGKILL worker processes at random moments, then count what was lost.

Two workers run jobs of 1-20 ms. A chaos loop kills a random worker with SIGKILL
``failure_kills`` times (``--kills``) at random intervals (from a logged seed) and starts a
replacement after each kill. The jobs carry the task defaults (no retries), so the app's
``redeliveries`` allowance decides when a job whose workers keep dying is dead-lettered,
as it would for an application. While kills remain, the backlog is topped up whenever it
runs low (to a few seconds of work), so every kill lands on busy workers however fast
the backend drains. The ledger,
kept in files outside the broker, then says which accepted jobs never finished and are not
in the dead-letter queue either (lost), which finished more than once (duplicated), which
were dead-lettered and whether they had ever started, and how long after the last kill the
backlog was drained.

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

from queuekit.broker import DeadLetter
from queuekit.errors import MalformedMessage
from queuekit.message import decode
from queuekit_bench.agents import Agent, AgentProcess, BenchError, ask
from queuekit_bench.context import BackendRun, all_done
from queuekit_bench.ledger import Ledger, account, read_ledger, redelivery_delays
from queuekit_bench.stats import latency_summary

WORKERS = 2


def run(ctx: BackendRun) -> dict[str, Any]:
    """Ledger accounting (lost, duplicated, ...), kills, seed, drain time and redelivery delays."""
    s = ctx.settings
    seed = ctx.rng.randrange(2**32)
    ctx.say(f"failure: {s.failure_jobs} jobs (more while kills remain), {s.failure_kills} SIGKILLs, seed {seed}")
    rng = random.Random(seed)
    if not ctx.cross_process:
        return {"seed": seed, **_in_process(ctx, rng)}
    return {"seed": seed, **_chaos(ctx, rng, seed)}


def _start(ctx: BackendRun, name: str, queue: str, folder: Path) -> AgentProcess:
    s = ctx.settings
    agent = ctx.spawn(name, lease=s.failure_lease)
    ask(agent, {"op": "work", "queue": queue, "burst": False, "concurrency": 2, "prefetch": 2,
                "lease": s.failure_lease, "poll": 0.2, "ledger": ctx.ledger_path(folder, agent)})
    return agent


def _chaos(ctx: BackendRun, rng: random.Random, seed: int) -> dict[str, Any]:
    s = ctx.settings
    queue = ctx.queue("failure")
    folder = ctx.folder("failure")
    feed = _Feed(ctx, queue, folder, [rng.uniform(1.0, 20.0) for _ in range(s.failure_jobs)],
                 random.Random(f"{seed}:top-ups"))
    began = time.time()
    agents = [_start(ctx, f"victim{i}", queue, folder) for i in range(WORKERS)]
    kills: list[tuple[int, float]] = []
    try:
        for number in range(s.failure_kills):
            feed.top_up(read_ledger(folder))
            time.sleep(rng.uniform(0.2, 1.0))
            slot = rng.randrange(len(agents))
            pid = agents[slot].pid
            kills.append((pid, agents[slot].kill()))
            ctx.progress.bar(number + 1, s.failure_kills, "kills")
            agents[slot] = _start(ctx, f"victim{WORKERS + number}", queue, folder)
        last_kill = kills[-1][1] if kills else began
        timeout = s.failure_lease * 4 + 60.0
        ledger = ctx.wait_for(folder, all_done(feed.produced), timeout, give_up=Settled(ctx, queue, folder, agents))
        drained = all_done(feed.produced)(ledger)
        finished_at = max((e.t for e in ledger.dones), default=last_kill)
    finally:
        for agent in agents:
            agent.close()
    leftover = ctx.app.broker.stats([queue]).get(queue)
    dead = ctx.app.broker.dead_letters(queue, limit=max(feed.produced, 1))
    dead_keys = _keys(ctx, dead)
    started = {event.key for event in ledger.starts}
    return {
        "mode": "worker processes killed", "workers": WORKERS, "lease_s": s.failure_lease,
        "redeliveries": ctx.app.redeliveries, "kills_planned": s.failure_kills, "top_ups": feed.top_ups,
        "kills": [{"pid": pid, "t": t} for pid, t in kills],
        "drained": drained,
        "drain_after_last_kill_s": max(finished_at - last_kill, 0.0) if drained else None,
        "elapsed_s": finished_at - began,
        "redelivery_ms": latency_summary([d * 1000.0 for d in redelivery_delays(ledger, kills)]),
        "left_in_broker": None if leftover is None else dataclasses.asdict(leftover),
        "dead_lettered": len(dead), "dead_lettered_unstarted": len(dead_keys - started),
        "dead_reasons": sorted({d.reason[:120] for d in dead})[:5],
        **account(ledger, dead=dead_keys).as_dict(),
    }


class _Feed:
    """The failure run's producer: the first ``len(sleeps)`` jobs at once, then more whenever the backlog runs low.

    Before each wait for a kill, the backlog is topped up to ``AHEAD`` seconds of work at the
    rate the workers have finished jobs since the first start (at least ``FLOOR`` jobs), so the workers are
    busy when the kill lands, and little is left to drain after the last one. The top-ups'
    sleeps come from their own generator (seeded from the run's seed), so the kill times of a
    seed stay the same however many top-ups a backend needed.
    """

    AHEAD = 2.5  # seconds of work: well over the longest wait for a kill (1 s)
    FLOOR = 100

    def __init__(self, ctx: BackendRun, queue: str, folder: Path, sleeps: list[float], rng: random.Random) -> None:
        self.ctx = ctx
        self.queue = queue
        self.path = str(folder / "producer.ledger")
        self.rng = rng
        self.produced = 0
        self.top_ups = 0
        self._send(sleeps)

    def _send(self, sleeps: list[float]) -> None:
        self.ctx.producer.produce({"queue": self.queue, "count": len(sleeps), "mode": "batch", "batch": 200,
                                   "tracked": True, "producer": "f", "start": self.produced, "sleep_ms": sleeps,
                                   "retries": 0, "ledger": self.path})
        self.produced += len(sleeps)

    def top_up(self, ledger: Ledger) -> None:
        """Enqueue enough to bring the unfinished jobs up to ``AHEAD`` seconds of work, if they are fewer."""
        done = ledger.done_keys()
        unfinished = len(set(ledger.accepted) - done)
        first = min((event.t for event in ledger.starts), default=time.time())
        rate = len(done) / max(time.time() - first, 0.5)  # jobs/s since the first start, kills included
        wanted = max(self.FLOOR, int(rate * self.AHEAD))
        if unfinished < wanted:
            self._send([self.rng.uniform(1.0, 20.0) for _ in range(wanted - unfinished)])
            self.top_ups += 1


def _keys(ctx: BackendRun, dead: Sequence[DeadLetter]) -> set[str]:
    """The ledger keys of dead letters (a tracked job's first argument); bodies that do not decode are skipped."""
    found = set()
    for letter in dead:
        try:
            message = decode(letter.body, max_size=ctx.app.max_message_size, signer=ctx.app.signer)
        except MalformedMessage:
            continue
        if message.args and isinstance(message.args[0], str):
            found.add(message.args[0])
    return found


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
        "redeliveries": ctx.app.redeliveries, "kills_planned": 1, "top_ups": 0,
        "left_in_broker": None, "dead_lettered": 0, "dead_lettered_unstarted": 0, "dead_reasons": [],
        **account(ledger).as_dict(),
    }
