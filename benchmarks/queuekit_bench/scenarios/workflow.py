"""Workflow: a chord of N members and a callback that sums their results; seconds from fan-out to fan-in.

Each run calls ``chord(group(member.s(i, key) for i in range(N)), total.s(key)).delay()``
with idle workers waiting, and stops the clock when the callback's body has finished (its
``done`` line in the ledger): enqueueing the members, running them, counting each one
done, joining their results and running the callback are all inside. Members write their
own ``done`` lines, so the join's share (last member's end to the callback's end) is
reported beside it. The callback's result must be the sum of the members' results
(0 + 1 + ... + N-1); any other value fails the figure. Brokers that keep no results get
an SQLite result store beside the run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from queuekit import chord, group
from queuekit.broker import JobStatus
from queuekit.canvas import Workflow
from queuekit_bench.agents import BenchError, ask
from queuekit_bench.context import BackendRun
from queuekit_bench.figures import figure, measure
from queuekit_bench.ledger import Ledger
from queuekit_bench.stats import rate
from queuekit_bench.tasks import MEMBER, TOTAL

POLL = 0.25  # an idle worker's reserve timeout, as in the latency workload
FIRST_LOOK, LOOK_EVERY = 10.0, 5.0  # seconds: when to look for a failed step while waiting (a look reads every step)


def run(ctx: BackendRun) -> dict[str, Any]:
    """Figures ``seconds`` (fan-out to fan-in), ``members_per_s`` (members over those seconds) and ``join_s``."""
    s = ctx.settings
    members = s.workflow_members
    ctx.say(f"workflow: chord of {members} members, {s.workflow_workers} worker(s) x {s.concurrency} threads")
    queue = ctx.queue("workflow")
    folder = ctx.folder("workflow")
    agents = ctx.result_workers(s.workflow_workers)
    for agent in agents:
        ask(agent, {"op": "work", "queue": queue, "burst": False, "concurrency": s.concurrency, "poll": POLL,
                    "ledger": ctx.ledger_path(folder, agent)})
    returned: list[int] = []
    joins: list[float] = []
    try:
        seconds, _ = measure(s.repeats, lambda index: _one_chord(ctx, queue, folder, index, returned, joins))
    finally:
        for agent in agents:
            ask(agent, {"op": "stop"})
    return {
        "figures": {"seconds": figure(seconds, "s", "lower"),
                    "members_per_s": figure([rate(members, t) for t in seconds], "jobs/s", "higher"),
                    "join_s": figure(joins, "s", "lower")},
        "members": members, "workers": s.workflow_workers, "concurrency": s.concurrency,
        "worker_kind": "process" if ctx.cross_process else "thread", "callback_total": expected_total(members),
        "callback_results": returned,
        "result_store": "broker" if ctx.results_url is None else "sqlite file beside the run",
    }


def expected_total(members: int) -> int:
    """What the callback must return: the sum of the members' results, 0 + 1 + ... + members-1."""
    return members * (members - 1) // 2


def _one_chord(ctx: BackendRun, queue: str, folder: Path, index: int, returned: list[int],
               joins: list[float]) -> float:
    s = ctx.settings
    app = ctx.results_app()
    key = f"chord{index}"
    members = (app.tasks[MEMBER].s(i, key).set(queue=queue) for i in range(s.workflow_members))
    began = time.time()
    workflow = chord(group(members), app.tasks[TOTAL].s(key).set(queue=queue)).delay()
    ledger = ctx.wait_for(folder, lambda found: _finished(found, key) is not None,
                          timeout=60.0 + s.workflow_members * 0.1, give_up=_FailureLook(workflow))
    finished = _finished(ledger, key)
    if finished is None:
        raise BenchError(f"chord of {s.workflow_members} members: the callback did not run ({_why(workflow)})")
    got = workflow.result(timeout=30.0)
    if got != expected_total(s.workflow_members):
        raise BenchError(f"chord callback returned {got!r}, expected {expected_total(s.workflow_members)} "
                         f"(the sum of its {s.workflow_members} members' results): a member result was lost "
                         "or counted twice")
    returned.append(got)
    joins.append(finished - _last_member(ledger, key))
    return finished - began


def _finished(ledger: Ledger, key: str) -> float | None:
    """When the callback ``key`` first finished, from the ledger."""
    times = [event.t for event in ledger.dones if event.key == key]
    return min(times) if times else None


def _last_member(ledger: Ledger, key: str) -> float:
    """When the last member of chord ``key`` first finished (a member run twice counts at its first end)."""
    first: dict[str, float] = {}
    for event in ledger.dones:
        if event.key.startswith(f"{key}:"):
            first[event.key] = min(event.t, first.get(event.key, event.t))
    if not first:
        raise BenchError(f"no member of {key} wrote its done line to the ledger")
    return max(first.values())


class _FailureLook:
    """True once the workflow has failed; looks first after ``FIRST_LOOK`` seconds, then every ``LOOK_EVERY``,
    so that a normal run's figure is not burdened with reading every step's status."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.next = time.monotonic() + FIRST_LOOK

    def __call__(self) -> bool:
        if time.monotonic() < self.next:
            return False
        self.next = time.monotonic() + LOOK_EVERY
        return self.workflow.status()[0] in (JobStatus.FAILED, JobStatus.CANCELLED)


def _why(workflow: Workflow) -> str:
    try:
        workflow.result(timeout=0)
    except TimeoutError:
        return "still running after the deadline"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "it finished meanwhile"
