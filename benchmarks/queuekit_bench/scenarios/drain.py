"""Drain: N jobs waiting, then 1, 2, 4 worker processes; jobs/s until every job is acked."""

from __future__ import annotations

import time
from typing import Any

from queuekit_bench.agents import BenchError, wait
from queuekit_bench.context import BackendRun, reply_float
from queuekit_bench.figures import Figure, figure, measure
from queuekit_bench.raw import RawQueue
from queuekit_bench.stats import rate


def run(ctx: BackendRun) -> dict[str, Any]:
    """One figure per worker count (``workers_1`` carries the raw single-consumer baseline)."""
    s = ctx.settings
    figures: dict[str, Figure] = {}
    for count in s.workers:
        ctx.say(f"drain: {s.drain_jobs} jobs, {count} worker(s) x {s.concurrency} threads")
        figures[f"workers_{count}"] = _drain(ctx, count, ctx.raw(f"drain{count}") if count == 1 else None)
    return {"figures": figures, "jobs": s.drain_jobs, "workers": list(s.workers), "concurrency": s.concurrency,
            "worker_kind": "process" if ctx.cross_process else "thread"}


def _drain(ctx: BackendRun, count: int, raw: RawQueue | None) -> Figure:
    s = ctx.settings
    agents = ctx.workers(count)
    queue = ctx.queue(f"drain{count}")

    def ours(_: int) -> float:
        ctx.prefill(queue, s.drain_jobs)
        began = time.time()
        futures = [agent.submit({"op": "work", "queue": queue, "burst": True, "concurrency": s.concurrency})
                   for agent in agents]
        replies = [wait(f) for f in futures]
        acked = sum(int(r.get("counts", {}).get("ack", 0)) for r in replies)
        if acked < s.drain_jobs:
            ctx.drop_queue(queue)
            raise BenchError(f"workers went idle after {acked} of {s.drain_jobs} jobs")
        return rate(acked, max(reply_float(r, "t_end") for r in replies) - began)

    body = ctx.body()
    batch = 4 * s.concurrency  # what one worker reserves at a time (concurrency + default prefetch)

    def theirs(_: int) -> float:
        assert raw is not None
        for first in range(0, s.drain_jobs, 500):
            raw.push([body] * min(500, s.drain_jobs - first))
        started = time.perf_counter()
        taken = 0
        while taken < s.drain_jobs:
            got = raw.pop_ack(min(batch, s.drain_jobs - taken))
            if not got:
                raise BenchError(f"raw client found only {taken} of {s.drain_jobs} messages")
            taken += got
        return rate(taken, time.perf_counter() - started)

    mine, raws = measure(s.repeats, ours, theirs if raw is not None else None)
    return figure(mine, "jobs/s", "higher", raws, raw.client if raw else None)
