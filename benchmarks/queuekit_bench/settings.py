"""Run sizes: the quick, default and full profiles, and the options that override them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

SCENARIOS = ("enqueue", "drain", "latency", "ordering", "failure", "backlog", "payload", "workflow", "peers",
             "soak")
# The soak runs for a fixed wall-clock time (a minute a backend by default), more than all the
# other workloads of a --quick run together; the peers workload starts a worker process per
# framework and run: both run when asked for, in ``all`` and in --full.
DEFAULT_SCENARIOS = tuple(name for name in SCENARIOS if name not in ("soak", "peers"))
MIN_SOAK_SECONDS = 4.0  # four quarters of at least one sample each
GROUPS = {"throughput": ("enqueue", "drain"), "all": SCENARIOS, "guarantees": ("ordering", "failure")}


@dataclass(frozen=True)
class Settings:
    """Every size and count a run uses; recorded in results.json."""

    profile: str = "default"
    scenarios: tuple[str, ...] = DEFAULT_SCENARIOS
    repeats: int = 5
    seed: int = 0
    enqueue_jobs: int = 3000  # single-message enqueue, one producer
    batch_jobs: int = 20000  # batch enqueue, one producer
    batch_size: int = 100
    producers: int = 4  # concurrent producer processes
    drain_jobs: int = 5000
    workers: tuple[int, ...] = (1, 2, 4)
    concurrency: int = 2  # threads per worker process
    latency_rate: float = 200.0  # jobs per second
    latency_seconds: float = 5.0  # per run
    order_jobs: int = 2000
    priority_jobs: int = 1000
    delay_jobs: int = 20
    delay_seconds: float = 0.5
    failure_jobs: int = 2000
    failure_kills: int = 6  # SIGKILLs of worker processes during the ledger run (--kills)
    failure_lease: float = 2.0
    backlog_depths: tuple[int, ...] = (1_000, 10_000, 100_000)
    backlog_sample: int = 1000  # reserve+ack operations timed per run, at each depth
    payload_sizes: tuple[int, ...] = (100, 10_000, 1_000_000)
    payload_jobs: tuple[int, ...] = (2000, 500, 20)
    workflow_members: int = 1000  # chord header members (the callback sums their results)
    workflow_workers: int = 2  # worker processes running the chord
    peer_jobs: int = 10_000  # the peers workload: jobs enqueued one by one, then drained by one worker process
    process_jobs: int = 50_000  # the peers workload's --processes 2 against 1: a backlog long enough for both
    soak_seconds: float = 60.0  # the soak's length (--duration): one worker draining a topped-up backlog

    def as_dict(self) -> dict[str, object]:
        """JSON form (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


QUICK = Settings(  # about 10 s a backend on a 2-core machine: the README's first command
    profile="quick", repeats=3, enqueue_jobs=300, batch_jobs=2000, drain_jobs=400, latency_seconds=0.75,
    order_jobs=200, priority_jobs=200, delay_jobs=10, failure_jobs=300, failure_kills=2, failure_lease=1.0,
    backlog_depths=(1_000, 5_000), backlog_sample=200, payload_jobs=(200, 100, 5), workflow_members=200,
    soak_seconds=15.0, peer_jobs=300, process_jobs=1500,
)
FULL = dataclasses.replace(
    Settings(), profile="full", repeats=7, backlog_depths=(1_000, 10_000, 100_000, 1_000_000),
    scenarios=SCENARIOS, failure_jobs=5000, failure_kills=100, soak_seconds=300.0,
)
PROFILES = {"quick": QUICK, "default": Settings(), "full": FULL}


def parse_scenarios(text: str) -> tuple[str, ...]:
    """``"throughput,latency"`` -> the scenario names, in their canonical order."""
    wanted: set[str] = set()
    for item in (part.strip().lower() for part in text.split(",")):
        if not item:
            continue
        if item in GROUPS:
            wanted.update(GROUPS[item])
        elif item in SCENARIOS:
            wanted.add(item)
        else:
            known = ", ".join([*SCENARIOS, *GROUPS])
            raise ValueError(f"unknown scenario {item!r}; known: {known}")
    if not wanted:
        raise ValueError("no scenario selected")
    return tuple(name for name in SCENARIOS if name in wanted)


def parse_counts(text: str) -> tuple[int, ...]:
    """``"1,2,4"`` -> (1, 2, 4); each must be a positive integer."""
    values = []
    for part in text.split(","):
        if part.strip():
            value = int(part)
            if value < 1:
                raise ValueError(f"counts must be positive, got {value}")
            values.append(value)
    if not values:
        raise ValueError("give at least one count")
    return tuple(values)
