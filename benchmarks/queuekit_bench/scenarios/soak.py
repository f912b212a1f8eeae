"""Soak: one worker under steady load for ``soak_seconds``; its memory and jobs/s over time.

A producer thread in the harness sends no-op jobs in batches of ``BATCH`` whenever fewer
than ``HIGH`` wait (it looks again after each batch, or after ``LOOK`` seconds), so the
worker never runs dry and its rate is what it sustains, not what it is fed; the fewest
jobs the producer saw waiting after the start (``min_waiting``) and the share of its looks
that found none (``dry_share``) say whether that held. A
fresh worker agent (a thread in the harness for ``memory://``) works the queue; every
interval the harness reads the worker's completions so far (``counts``) and its resident
memory (``VmRSS`` in ``/proc/<pid>/status``; for ``memory://`` that is the harness's own
process, which also holds the broker). The result compares the first quarter of the run
with the last: jobs/s and RSS. A worker that leaks, or slows as it ages, shows it there;
the samples are kept for the plot.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path
from typing import Any

from queuekit_bench.agents import Agent, ask
from queuekit_bench.context import BackendRun

HIGH, BATCH = 20_000, 5000  # the producer sends a batch whenever fewer than HIGH jobs wait
LOOK = 0.05  # seconds before the producer looks again at a full backlog
SAMPLES = 60  # samples over the run (intervals of at least MIN_INTERVAL)
MIN_INTERVAL = 0.5


def run(ctx: BackendRun) -> dict[str, Any]:
    """Samples over time, and first-quarter against last-quarter jobs/s and RSS."""
    s = ctx.settings
    duration = s.soak_seconds
    interval = max(MIN_INTERVAL, duration / SAMPLES)
    ctx.say(f"soak: {duration:g} s, 1 worker x {s.concurrency} threads, a sample every {interval:g} s")
    queue = ctx.queue("soak")
    agent = ctx.spawn("soak", lease=ctx.app.lease) if ctx.cross_process else ctx.workers(1)[0]
    feeder = _Feeder(ctx, queue)
    while feeder.waiting() < HIGH:  # the first jobs wait before the clock starts
        feeder.send()
    feeder.min_waiting = HIGH
    stop = threading.Event()
    thread = threading.Thread(target=feeder.loop, args=(stop,), name="qkbench-soak-producer", daemon=True)
    thread.start()
    samples: list[dict[str, float]] = []
    try:
        ask(agent, {"op": "work", "queue": queue, "burst": False, "concurrency": s.concurrency, "poll": 0.2})
        began = time.monotonic()
        samples.append(_sample(agent, 0.0))
        for index in range(1, int(duration / interval) + 1):
            time.sleep(max(began + index * interval - time.monotonic(), 0.0))
            samples.append(_sample(agent, time.monotonic() - began))
            ctx.progress.bar(index, int(duration / interval), "soak samples")
        ask(agent, {"op": "stop"})
    finally:
        stop.set()
        thread.join(timeout=60.0)
        if ctx.cross_process:
            agent.close()
    if feeder.error is not None:
        raise feeder.error
    return {
        "duration_s": samples[-1]["t"], "interval_s": interval, "concurrency": s.concurrency,
        "worker_kind": "process" if ctx.cross_process else "thread in the harness (RSS is the harness's)",
        "enqueued": feeder.sent, "completed": int(samples[-1]["completed"]), "min_waiting": feeder.min_waiting,
        "dry_share": feeder.dry / feeder.looks if feeder.looks else 0.0,
        "samples": samples, "first_quarter": quarter(samples, 0), "last_quarter": quarter(samples, 3),
    }


class _Feeder:
    """Keeps the soak's queue topped up from the harness: a batch whenever fewer than ``HIGH`` jobs wait."""

    def __init__(self, ctx: BackendRun, queue: str) -> None:
        self.ctx = ctx
        self.queue = queue
        self.sent = 0
        self.min_waiting = HIGH
        self.looks = self.dry = 0  # looks at the backlog after the start, and those that found it empty
        self.error: Exception | None = None

    def waiting(self) -> int:
        """Ready jobs of the queue, as the harness sees them."""
        stats = self.ctx.app.broker.stats([self.queue]).get(self.queue)
        return stats.ready if stats is not None else 0

    def send(self) -> None:
        """Send one batch."""
        self.ctx.producer.produce({"queue": self.queue, "count": BATCH, "mode": "batch", "batch": BATCH,
                                   "producer": "soak", "start": self.sent})
        self.sent += BATCH

    def loop(self, stop: threading.Event) -> None:
        """Top up until ``stop``; an error ends the loop and is kept for the scenario to raise."""
        try:
            while not stop.is_set():
                waiting = self.waiting()
                self.min_waiting = min(self.min_waiting, waiting)
                self.looks += 1
                self.dry += waiting == 0
                if waiting < HIGH:
                    self.send()
                else:
                    stop.wait(LOOK)
        except Exception as exc:
            self.error = exc


def _sample(agent: Agent, elapsed: float) -> dict[str, float]:
    counts = ask(agent, {"op": "counts"}, timeout=60.0).get("counts", {})
    return {"t": round(elapsed, 3), "completed": float(counts.get("ack", 0)), "rss_mb": rss_mb(agent.pid)}


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB (``VmRSS``); 0.0 where /proc cannot tell."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0  # reported in kB
    return 0.0


def quarter(samples: list[dict[str, float]], index: int) -> dict[str, float]:
    """Jobs/s and median RSS over quarter ``index`` (0-3) of the samples (at least two: the run's start and end)."""
    intervals = len(samples) - 1
    inside = samples[round(intervals * index / 4):round(intervals * (index + 1) / 4) + 1]
    first, last = inside[0], inside[-1]
    seconds = last["t"] - first["t"]
    return {"from_s": first["t"], "to_s": last["t"],
            "jobs_per_s": (last["completed"] - first["completed"]) / seconds if seconds > 0 else 0.0,
            "rss_mb": statistics.median(x["rss_mb"] for x in inside)}
