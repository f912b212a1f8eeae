"""Research plan 5.1: worker processes SIGKILLed at random moments lose nothing.

Two worker processes drain a few hundred short jobs; a seeded chaos loop SIGKILLs one
of them a few times, each when a random share of the jobs is done and while it is
inside a job, and starts a fresh one. The ledger (files outside the broker) is the truth: nothing accepted may
be lost, nothing unknown may run, and duplicates are bounded by what the killed
workers held. Replay a failure with ``QK_FAULT_SEED=<seed>``.
"""

from __future__ import annotations

import collections
import functools
import os
import random
import signal
import statistics
import subprocess
import time
from dataclasses import dataclass

from queuekit.broker import QueueStats
from tests.faults.ledger import Ledger, account
from tests.faults.rig import Rig
from tests.support import wait_until

JOBS = 300
KILLS = 3
CONCURRENCY, PREFETCH = 2, 2
LEASE = 2.0
WORKER_OPTIONS = ("--concurrency", str(CONCURRENCY), "--prefetch", str(PREFETCH), "--lease", str(LEASE))


@dataclass(frozen=True)
class Kill:
    """One SIGKILL: which process, and when (wall clock, as in the ledger)."""

    pid: int
    at: float


def _seed() -> int:
    chosen = os.environ.get("QK_FAULT_SEED")
    return int(chosen) if chosen else random.SystemRandom().randrange(2**32)


def _running(ledger: Ledger) -> set[int]:
    """PIDs that are inside a task body right now (a start without its done)."""
    started = collections.Counter((run.key, run.pid) for run in ledger.starts)
    started.subtract((run.key, run.pid) for run in ledger.dones)
    return {pid for (_key, pid), count in started.items() if count > 0}


def _done_at_least(rig: Rig, count: int) -> bool:
    return len(rig.ledger().done_counts()) >= count


def _find_busy(rig: Rig, workers: list[subprocess.Popen[bytes]], found: list[int]) -> bool:
    """Fill ``found`` with the slots of workers inside a job; true if there is one."""
    running = _running(rig.ledger())
    found[:] = [slot for slot, proc in enumerate(workers) if proc.pid in running]
    return bool(found)


def _chaos(rig: Rig, rng: random.Random, workers: list[subprocess.Popen[bytes]]) -> list[Kill]:
    """Kill a worker that is mid-job each time a random share of the jobs is done."""
    thresholds = sorted(rng.sample(range(JOBS // 10, JOBS * 3 // 4), KILLS))
    kills = []
    busy: list[int] = []
    for threshold in thresholds:
        wait_until(functools.partial(_done_at_least, rig, threshold), 120, f"{threshold} jobs done")
        wait_until(functools.partial(_find_busy, rig, workers, busy), 60, "a worker to be inside a job")
        slot = rng.choice(busy)
        victim = workers[slot]
        kills.append(Kill(victim.pid, time.time()))
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(30) == -signal.SIGKILL
        workers[slot] = rig.worker(*WORKER_OPTIONS)
    return kills


def _redeliveries(ledger: Ledger, kills: list[Kill]) -> tuple[int, list[float]]:
    """Jobs cut short by the kills, and for each the delay until it started elsewhere."""
    cut, delays = 0, []
    for kill in kills:
        started = {run.key for run in ledger.starts if run.pid == kill.pid}
        finished = {run.key for run in ledger.dones if run.pid == kill.pid}
        for key in started - finished:
            cut += 1
            later = [run.t for run in ledger.starts if run.key == key and run.pid != kill.pid and run.t >= kill.at]
            if later:
                delays.append(min(later) - kill.at)
    return cut, delays


def test_sigkilled_workers_lose_nothing_and_duplicates_stay_bounded(rig: Rig) -> None:
    seed = _seed()
    rng = random.Random(seed)
    keys = [f"job{n:04d}" for n in range(JOBS)]
    rig.enqueue(rig.message("faults.work", key, round(rng.uniform(1, 20), 1)) for key in keys)
    workers = [rig.worker(*WORKER_OPTIONS) for _ in range(2)]

    kills = _chaos(rig, rng, workers)
    wait_until(lambda: len(rig.ledger().done_counts()) == JOBS, 180, "every job to be done after the kills")
    wait_until(lambda: rig.stats() == QueueStats(), 60, "the queue to be empty with nothing in flight")
    assert rig.stop(workers) == [0, 0], "the surviving workers stop gracefully"

    ledger = rig.ledger()
    verdict = account(ledger)
    cut, delays = _redeliveries(ledger, kills)
    figures = (f"[{rig.target.kind}] seed={seed} kills={len(kills)} {verdict.summary()} cut_short={cut} "
               f"redelivery_s p50={statistics.median(delays) if delays else 0:.2f} "
               f"max={max(delays, default=0):.2f}")
    print(figures)
    assert verdict.accepted == JOBS, figures
    assert verdict.lost == 0, f"{figures}; lost e.g. {verdict.lost_keys}"
    assert verdict.unexpected == 0, figures
    assert verdict.duplicated <= (CONCURRENCY + PREFETCH) * KILLS, figures
    assert cut >= 1, f"the kills should land while jobs run; {figures}"
    assert len(delays) == cut, f"every job cut short starts again on another worker; {figures}"
