"""Ordering: FIFO inversions with one consumer and with several, priority inversions, early delays.

* ``fifo_1``: concurrent producers each enqueue a numbered sequence; one worker at
  concurrency 1 without prefetch drains it. Inversions are counted per producer.
* ``fifo_n``: the same backlog drained by several consumers at once (inversions expected).
* ``priority``: a backlog of random priorities 0-9 drained by one worker at concurrency 1.
* ``delay``: jobs enqueued with a delay; ``early`` counts starts before they were due.

These are counts, not timings: each runs once per backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from queuekit_bench.agents import Agent, ask, wait
from queuekit_bench.context import BackendRun, all_done
from queuekit_bench.ledger import read_ledger, split_key
from queuekit_bench.ordering import fifo_inversions, priority_inversions
from queuekit_bench.stats import latency_summary


def run(ctx: BackendRun) -> dict[str, Any]:
    """Order reports for ``fifo_1``, ``fifo_n``, ``priority`` and (where declared) ``delay``."""
    s = ctx.settings
    consumers = max(s.workers)
    ctx.say(f"ordering: {s.order_jobs} jobs from {s.producers} producers, 1 then {consumers} consumers")
    out: dict[str, Any] = {"fifo_1": _fifo(ctx, 1), "fifo_n": _fifo(ctx, consumers)}
    ctx.say(f"ordering: {s.priority_jobs} jobs of mixed priority")
    out["priority"] = _priority(ctx)
    if ctx.capabilities.delays:
        ctx.say(f"ordering: {s.delay_jobs} jobs delayed {s.delay_seconds} s")
        out["delay"] = _delay(ctx)
    else:
        out["delay"] = {"skipped": "capability not declared: delays"}
    return out


def _drain(ctx: BackendRun, agents: list[Agent], queue: str, folder: Path) -> None:
    futures = [agent.submit({"op": "work", "queue": queue, "burst": True, "concurrency": 1, "prefetch": 0,
                             "ledger": ctx.ledger_path(folder, agent)}) for agent in agents]
    for future in futures:
        wait(future)


def _fifo(ctx: BackendRun, consumers: int) -> dict[str, Any]:
    s = ctx.settings
    queue = ctx.queue(f"fifo{consumers}")
    folder = ctx.folder(f"fifo{consumers}")
    producers = ctx.workers(s.producers)
    each = max(s.order_jobs // len(producers), 1)
    futures = [agent.submit({"op": "produce", "queue": queue, "count": each, "tracked": True,
                             "producer": f"p{n}", "ledger": str(folder / f"prod-{agent.name}-{agent.pid}.ledger")})
               for n, agent in enumerate(producers)]
    for future in futures:
        wait(future)
    _drain(ctx, ctx.workers(consumers), queue, folder)
    ledger = read_ledger(folder)
    report = fifo_inversions(split_key(event.key) for event in ledger.start_order())
    return {**report.as_dict(), "consumers": consumers, "producers": len(producers),
            "accepted": len(ledger.accepted), "finished": len(ledger.done_keys())}


def _priority(ctx: BackendRun) -> dict[str, Any]:
    s = ctx.settings
    queue = ctx.queue("priority")
    folder = ctx.folder("priority")
    priorities = [ctx.rng.randrange(10) for _ in range(s.priority_jobs)]
    ctx.producer.produce({"queue": queue, "count": len(priorities), "mode": "batch", "batch": 100,
                          "tracked": True, "producer": "prio", "priorities": priorities,
                          "ledger": str(folder / "producer.ledger")})
    _drain(ctx, ctx.workers(1), queue, folder)
    ledger = read_ledger(folder)
    order = [priorities[split_key(event.key)[1]] for event in ledger.start_order()]
    return {**priority_inversions(order).as_dict(), "levels": 10}


def _delay(ctx: BackendRun) -> dict[str, Any]:
    s = ctx.settings
    queue = ctx.queue("delay")
    folder = ctx.folder("delay")
    (agent,) = ctx.workers(1)
    ask(agent, {"op": "work", "queue": queue, "burst": False, "concurrency": 2, "poll": 1.0,
                "ledger": ctx.ledger_path(folder, agent)})
    try:
        ctx.producer.produce({"queue": queue, "count": s.delay_jobs, "tracked": True, "producer": "delay",
                              "delay": s.delay_seconds, "ledger": str(folder / "producer.ledger")})
        ledger = ctx.wait_for(folder, all_done(s.delay_jobs), timeout=s.delay_seconds + 60.0)
    finally:
        ask(agent, {"op": "stop"})
    first: dict[str, float] = {}
    for event in ledger.starts:
        first[event.key] = min(event.t, first.get(event.key, event.t))
    early = 0
    late_ms = []
    for key, (t_call, t_return) in ledger.accepted.items():
        if key in first:
            early += first[key] < t_call + s.delay_seconds
            late_ms.append((first[key] - (t_return + s.delay_seconds)) * 1000.0)
    return {"jobs": s.delay_jobs, "delay_s": s.delay_seconds, "early": early,
            "never_ran": len(set(ledger.accepted) - set(first)), "lateness_ms": latency_summary(late_ms)}
