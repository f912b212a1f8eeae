"""The workloads, identical for every backend. Each takes a BackendRun and returns JSON-ready results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from queuekit_bench.context import BackendRun
from queuekit_bench.scenarios import (
    backlog,
    drain,
    enqueue,
    failure,
    latency,
    ordering,
    payload,
    peers,
    soak,
    workflow,
)

Scenario = Callable[[BackendRun], dict[str, Any]]

REGISTRY: dict[str, Scenario] = {
    "enqueue": enqueue.run,
    "drain": drain.run,
    "latency": latency.run,
    "ordering": ordering.run,
    "failure": failure.run,
    "backlog": backlog.run,
    "payload": payload.run,
    "workflow": workflow.run,
    "peers": peers.run,
    "soak": soak.run,
}
