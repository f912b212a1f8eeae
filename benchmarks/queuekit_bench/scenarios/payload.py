"""Payload size: enqueue then reserve+ack of 100 B, 10 KB and 1 MB messages, one at a time."""

from __future__ import annotations

import time
from typing import Any

from queuekit_bench.agents import BenchError
from queuekit_bench.context import BackendRun, reply_float
from queuekit_bench.figures import Figure, figure, measure
from queuekit_bench.stats import rate


def run(ctx: BackendRun) -> dict[str, Any]:
    """One figure per size in jobs per second (each enqueued, reserved and acked), with the raw client's."""
    s = ctx.settings
    figures: dict[str, Figure] = {}
    limit = ctx.capabilities.max_message_size
    skipped: dict[str, str] = {}
    for size, jobs in zip(s.payload_sizes, s.payload_jobs, strict=True):
        if limit is not None and size > limit:
            skipped[str(size)] = f"capability not declared: messages of {size} bytes (limit {limit})"
            continue
        ctx.say(f"payload: {jobs} jobs of {size:,} bytes")
        figures[str(size)] = _size(ctx, size, jobs)
    return {"figures": figures, "sizes": list(s.payload_sizes), "jobs": list(s.payload_jobs), "skipped": skipped}


def _size(ctx: BackendRun, size: int, jobs: int) -> Figure:
    s = ctx.settings
    queue = ctx.queue(f"payload{size}")
    broker = ctx.app.broker
    raw = ctx.raw(f"payload{size}")
    body = ctx.body(size)

    def ours(_: int) -> float:
        reply = ctx.producer.produce({"queue": queue, "count": jobs, "payload": size})
        started = time.perf_counter()
        for _n in range(jobs):
            got = broker.reserve([queue], 1, 60.0)
            if not got:
                raise BenchError(f"{size}-byte job missing after enqueue")
            broker.ack(got)
        seconds = reply_float(reply, "t_end") - reply_float(reply, "t_start") + time.perf_counter() - started
        return rate(jobs, seconds)

    def theirs(_: int) -> float:
        assert raw is not None
        started = time.perf_counter()
        for _n in range(jobs):
            raw.push([body])
        for _n in range(jobs):
            if not raw.pop_ack(1):
                raise BenchError(f"raw {size}-byte message missing")
        return rate(jobs, time.perf_counter() - started)

    try:
        mine, raws = measure(s.repeats, ours, theirs if raw is not None else None)
    finally:
        ctx.drop_queue(queue)
    fig = figure(mine, "jobs/s", "higher", raws, raw.client if raw else None)
    fig["body_bytes"] = len(body)
    return fig
