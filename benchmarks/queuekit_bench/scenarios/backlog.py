"""Backlog scaling: reserve+ack cost per job with 1k, 10k, 100k (1M with --full) jobs waiting.

The queue is filled to the depth plus what the timed runs take, so the depth stays
about the same while it is measured. The raw client does the same on its own queue.
"""

from __future__ import annotations

import time
from typing import Any

from queuekit_bench.agents import BenchError
from queuekit_bench.context import BackendRun
from queuekit_bench.figures import Figure, figure, measure

LEASE = 300.0


def run(ctx: BackendRun) -> dict[str, Any]:
    """One figure per depth, in microseconds per reserve+ack, with the raw client's cost beside it."""
    s = ctx.settings
    figures: dict[str, Figure] = {}
    for depth in s.backlog_depths:
        ctx.say(f"backlog: depth {depth:,}, {s.backlog_sample} reserve+ack per run")
        figures[str(depth)] = _at_depth(ctx, depth)
    costs = [figures[str(d)]["median"] for d in s.backlog_depths]
    growth = costs[-1] / costs[0] if costs and costs[0] > 0 else None
    return {"figures": figures, "depths": list(s.backlog_depths), "sample": s.backlog_sample,
            "growth": growth}


def _at_depth(ctx: BackendRun, depth: int) -> Figure:
    s = ctx.settings
    total = depth + s.repeats * s.backlog_sample
    queue = ctx.queue(f"backlog{depth}")
    ctx.prefill(queue, total)
    broker = ctx.app.broker
    raw = ctx.raw(f"backlog{depth}")

    def ours(_: int) -> float:
        started = time.perf_counter()
        for _n in range(s.backlog_sample):
            got = broker.reserve([queue], 1, LEASE)
            if not got:
                raise BenchError(f"queue ran dry at depth {depth}")
            broker.ack(got)
        return (time.perf_counter() - started) / s.backlog_sample * 1e6

    def theirs(_: int) -> float:
        assert raw is not None
        started = time.perf_counter()
        for _n in range(s.backlog_sample):
            if not raw.pop_ack(1):
                raise BenchError(f"raw queue ran dry at depth {depth}")
        return (time.perf_counter() - started) / s.backlog_sample * 1e6

    if raw is not None:
        body = ctx.body()
        for first in range(0, total, 500):
            raw.push([body] * min(500, total - first))
    try:
        mine, raws = measure(s.repeats, ours, theirs if raw is not None else None)
    finally:
        ctx.drop_queue(queue)
        if raw is not None:
            raw.purge()
    return figure(mine, "us/job", "lower", raws, raw.client if raw else None)
