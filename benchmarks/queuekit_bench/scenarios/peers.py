"""Peers: the issue-17 workload on queuekit and on peer frameworks, on the same broker in the same run.

One run of a framework: ``jobs`` no-op jobs enqueued one by one (timed: the one-by-one
enqueue rate), then one worker process started with the framework's own CLI at its defaults;
each job sends a UDP datagram, and the drain rate runs from the first completion to the last.
Frameworks take turns within each repeat, so load on a shared machine hits all of them.
Then queuekit's ``--processes 2`` beside one process, on a larger backlog (``process_jobs``,
enqueued in batches: their enqueue is not measured), each rate taken once every worker
process has completed a job (the processes start one after the other); and each framework's
batch enqueue call where it has one (``enqueue_many``, RQ's ``enqueue_many``, pgqueuer's list
``enqueue``).

``versus``: queuekit / the fastest peer, per paired repeat, beside the goal for the broker
(:mod:`queuekit_bench.goals`).
"""

from __future__ import annotations

import os
import time
from typing import Any

from queuekit_bench.agents import pythonpath
from queuekit_bench.context import BackendRun, ScenarioSkipped
from queuekit_bench.figures import Figure, figure
from queuekit_bench.goals import peer_goal
from queuekit_bench.peers import Peer, Workload, dist_version
from queuekit_bench.peers.completions import Completions, drain_rate, working_rate
from queuekit_bench.peers.process import WorkerProcess
from queuekit_bench.peers.queuekit import QueuekitPeer
from queuekit_bench.peers.registry import peers_for
from queuekit_bench.stats import paired_ratios, rate, summarize

BATCH = 1000  # jobs per batch call
STALL = 30.0  # seconds without a completion before a framework's run is declared stuck


def run(ctx: BackendRun) -> dict[str, Any]:
    """Figures ``drain_<framework>``, ``enqueue_<framework>``, ``batch_<framework>``, ``drain_queuekit_processes_2``."""
    if not ctx.cross_process:
        raise ScenarioSkipped(f"{ctx.target.scheme}:// lives inside one process: no worker process can reach it")
    s = ctx.settings
    runs = max(min(s.repeats, 3), 1)
    scheme = ctx.target.scheme.split("+", 1)[0]
    frameworks: list[Peer] = [QueuekitPeer()]
    skipped: dict[str, str] = {}
    for peer in peers_for(scheme):
        reason = peer.missing()
        if reason is None:
            frameworks.append(peer)
        else:
            skipped[peer.name] = reason
            ctx.say(f"peers: {peer.name} skipped: {reason}")
    drains: dict[str, list[float]] = {p.name: [] for p in frameworks}
    processes: dict[int, list[float]] = {1: [], 2: []}
    enqueues: dict[str, list[float]] = {p.name: [] for p in frameworks}
    failed: dict[str, str] = {}
    listener = Completions()
    try:
        for index in range(runs):
            for peer in frameworks:
                key = peer.name
                if key in failed:
                    continue
                jobs = min(s.peer_jobs, peer.max_jobs or s.peer_jobs)
                ctx.say(f"peers: {key}, {jobs} jobs, run {index + 1} of {runs}")
                try:
                    enqueued, drained = _one_run(ctx, peer, listener, jobs)
                except Exception as exc:
                    failed[key] = f"{type(exc).__name__}: {exc}"[:400]
                    ctx.progress.warn(f"{ctx.target.name}: peers: {key} failed: {failed[key]}")
                    continue
                drains[key].append(drained)
                enqueues[key].append(enqueued)
        for index in range(runs):
            for count in (1, 2):
                if "queuekit_processes_2" in failed:
                    break
                ctx.say(f"peers: queuekit worker --processes {count}, {s.process_jobs} jobs, run {index + 1} of {runs}")
                try:
                    processes[count].append(_one_run(ctx, QueuekitPeer(count), listener, s.process_jobs,
                                                     prefill=True)[1])
                except Exception as exc:
                    failed["queuekit_processes_2"] = f"{type(exc).__name__}: {exc}"[:400]
                    ctx.progress.warn(f"{ctx.target.name}: peers: --processes {count} failed: {exc}")
        batches = _batches(ctx, [p for p in frameworks if p.batch], runs, failed)
    finally:
        listener.close()
    return _results(ctx, frameworks, drains, enqueues, batches, processes, skipped, failed, scheme)


def _workload(ctx: BackendRun, listener: Completions) -> Workload:
    queue = ctx.queue("peers")
    return Workload(url=ctx.target.url, queue=queue, port=listener.port, prefix=f"{queue}-ns")


def _one_run(ctx: BackendRun, peer: Peer, listener: Completions, jobs: int,
             prefill: bool = False) -> tuple[float, float]:
    """(one-by-one enqueue rate, drain rate) of one framework; ``prefill``: enqueue in batches (0 for
    the enqueue rate) and take the drain rate once every worker process is working."""
    work = _workload(ctx, listener)
    peer.setup(work)
    try:
        began = time.perf_counter()
        if prefill:
            peer.enqueue_batch(work, jobs, BATCH)
        else:
            peer.enqueue(work, jobs)
        enqueued = 0.0 if prefill else rate(jobs, time.perf_counter() - began)
        listener.reset()
        env = {**os.environ, "PYTHONPATH": pythonpath(), **work.env(), **peer.env(work)}
        worker = WorkerProcess(peer.command(work), env, ctx.workdir / "logs" / f"peer-{peer.name}.log")
        try:
            arrivals = listener.wait(jobs, stall=STALL, alive=worker.exited)
        finally:
            worker.stop()
        return enqueued, working_rate(arrivals) if prefill else drain_rate(arrivals)
    finally:
        peer.teardown(work)


def _batches(ctx: BackendRun, frameworks: list[Peer], runs: int, failed: dict[str, str]) -> dict[str, list[float]]:
    jobs = ctx.settings.peer_jobs
    out: dict[str, list[float]] = {p.name: [] for p in frameworks}
    listener_port = 9  # no worker runs: nothing is signalled
    for index in range(runs):
        for peer in frameworks:
            key = f"batch_{peer.name}"
            if key in failed:
                continue
            ctx.say(f"peers: {peer.name} batch enqueue, {jobs} jobs in batches of {BATCH}, run {index + 1}")
            queue = ctx.queue("peers-batch")
            work = Workload(url=ctx.target.url, queue=queue, port=listener_port, prefix=f"{queue}-ns")
            try:
                peer.setup(work)
                try:
                    began = time.perf_counter()
                    peer.enqueue_batch(work, jobs, BATCH)
                    out[peer.name].append(rate(jobs, time.perf_counter() - began))
                finally:
                    peer.teardown(work)
            except Exception as exc:
                failed[key] = f"{type(exc).__name__}: {exc}"[:400]
    return out


def _results(ctx: BackendRun, frameworks: list[Peer], drains: dict[str, list[float]],
             enqueues: dict[str, list[float]], batches: dict[str, list[float]], processes: dict[int, list[float]],
             skipped: dict[str, str], failed: dict[str, str], scheme: str) -> dict[str, Any]:
    figures: dict[str, Figure] = {}
    for name, samples in drains.items():
        if samples:
            figures[f"drain_{name}"] = figure(samples, "jobs/s", "higher")
    one, two = processes[1], processes[2]
    if two and len(one) == len(two):
        figures["drain_queuekit_processes_2"] = figure(two, "jobs/s", "higher", one, "queuekit worker, 1 process")
    for name, samples in enqueues.items():
        if samples:
            figures[f"enqueue_{name}"] = figure(samples, "jobs/s", "higher")
    for name, samples in batches.items():
        if samples:
            figures[f"batch_{name}"] = figure(samples, "jobs/s", "higher")
    versus = {"drain": _versus(drains, [p.name for p in frameworks], peer_goal("drain", scheme)),
              "enqueue": _versus(enqueues, [p.name for p in frameworks], None),
              "batch": _versus(batches, [p.name for p in frameworks if p.batch], peer_goal("batch", scheme))}
    return {"figures": figures, "jobs": ctx.settings.peer_jobs, "process_jobs": ctx.settings.process_jobs,
            "batch_size": BATCH,
            "frameworks": {p.name: dist_version(p.dist) for p in frameworks},
            "jobs_by_framework": {p.name: min(ctx.settings.peer_jobs, p.max_jobs or ctx.settings.peer_jobs)
                                  for p in frameworks}, "skipped": skipped,
            "failed": failed, "versus": {k: v for k, v in versus.items() if v is not None}}


def _versus(samples: dict[str, list[float]], names: list[str], goal: float | None) -> dict[str, Any] | None:
    """queuekit against the fastest peer (by median), as paired per-repeat ratios."""
    ours = samples.get("queuekit") or []
    rivals = [(summarize(samples[n]).median, n) for n in names if n != "queuekit" and samples.get(n)]
    if not ours or not rivals:
        return None
    best = max(rivals)[1]
    theirs = samples[best]
    count = min(len(ours), len(theirs))
    ratios = paired_ratios(ours[:count], theirs[:count], "higher")
    if not ratios:
        return None
    ratio = summarize(ratios)
    return {"peer": best, "peer_median": summarize(theirs).median, "queuekit_median": summarize(ours).median,
            "ratio": {"samples": ratios, **ratio.as_dict()}, "goal": goal,
            "met": None if goal is None else ratio.median >= goal}
