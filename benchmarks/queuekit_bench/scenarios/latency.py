"""Latency: a producer at a fixed rate, idle workers; enqueue->start and enqueue->done percentiles.

Times run from the moment the producer *called* enqueue, so the enqueue call itself is
part of the latency a user sees. Every run's percentiles are kept; the figures are the
medians over runs, and the distribution plot pools every job of every run.
"""

from __future__ import annotations

from typing import Any

from queuekit_bench.agents import ask
from queuekit_bench.context import BackendRun, all_done
from queuekit_bench.figures import figure
from queuekit_bench.ledger import Ledger
from queuekit_bench.stats import latency_summary, quantile_curve

PERCENTILES = ("p50", "p90", "p99", "max")


def run(ctx: BackendRun) -> dict[str, Any]:
    """Figures ``start_p50`` .. ``done_max`` (ms) and pooled quantile curves for the plot."""
    s = ctx.settings
    count = max(int(s.latency_rate * s.latency_seconds), 1)
    runs = max(min(s.repeats, 3), 1)
    ctx.say(f"latency: {s.latency_rate:.0f} jobs/s for {s.latency_seconds:.1f} s, {runs} run(s)")
    per_run: list[dict[str, dict[str, float | int]]] = []
    pooled_start: list[float] = []
    pooled_done: list[float] = []
    lag: list[float] = []
    for index in range(runs):
        starts, dones, behind = _one_run(ctx, count, index)
        pooled_start += starts
        pooled_done += dones
        lag.append(behind)
        per_run.append({"start": latency_summary(starts), "done": latency_summary(dones)})
    figures = {}
    for kind in ("start", "done"):
        for pct in PERCENTILES:
            values = [float(r[kind][pct]) for r in per_run if pct in r[kind]]
            if values:
                figures[f"{kind}_{pct}"] = figure(values, "ms", "lower")
    return {"figures": figures, "rate": s.latency_rate, "jobs_per_run": count, "runs": per_run,
            "producer_max_lag_ms": max(lag) * 1000.0,
            "curve": {"start_ms": quantile_curve(pooled_start), "done_ms": quantile_curve(pooled_done)}}


def _one_run(ctx: BackendRun, count: int, index: int) -> tuple[list[float], list[float], float]:
    s = ctx.settings
    folder = ctx.folder("latency")
    queue = ctx.queue("latency")
    (agent,) = ctx.workers(1)
    ask(agent, {"op": "work", "queue": queue, "burst": False, "concurrency": s.concurrency, "poll": 0.25,
                "ledger": ctx.ledger_path(folder, agent)})
    try:
        ctx.producer.produce({"queue": queue, "count": count, "rate": s.latency_rate, "tracked": True,
                              "producer": f"lat{index}", "ledger": str(folder / f"producer{index}.ledger")})
        ledger = ctx.wait_for(folder, all_done(count), timeout=60.0)
    finally:
        ask(agent, {"op": "stop"})
    starts, dones = latencies(ledger)
    return starts, dones, producer_lag(ledger, s.latency_rate)


def latencies(ledger: Ledger) -> tuple[list[float], list[float]]:
    """Milliseconds from each accepted job's enqueue call to its first start and its first finish."""
    first_start: dict[str, float] = {}
    for event in ledger.starts:
        first_start[event.key] = min(event.t, first_start.get(event.key, event.t))
    first_done: dict[str, float] = {}
    for event in ledger.dones:
        first_done[event.key] = min(event.t, first_done.get(event.key, event.t))
    starts, dones = [], []
    for key, (t_call, _t_return) in ledger.accepted.items():
        if key in first_start:
            starts.append((first_start[key] - t_call) * 1000.0)
        if key in first_done:
            dones.append((first_done[key] - t_call) * 1000.0)
    return starts, dones


def producer_lag(ledger: Ledger, rate: float) -> float:
    """How far (s) the producer fell behind its schedule at worst: large values mean the rate was not held."""
    calls = sorted(t_call for t_call, _ in ledger.accepted.values())
    if not calls:
        return 0.0
    return max(t - (calls[0] + i / rate) for i, t in enumerate(calls))
