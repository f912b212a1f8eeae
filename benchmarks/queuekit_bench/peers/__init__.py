"""Peer frameworks on the peer workload, each driven the way its own users drive it.

The peer workload (the ``peers`` scenario): ``count`` no-op jobs are enqueued one by one
before one worker process starts at its framework's defaults, through that framework's own
CLI; each job sends one loopback UDP datagram when it runs, and the harness times the
arrivals (:mod:`queuekit_bench.peers.completions`). The rate runs from the first completion
to the last, so worker start-up is not part of it.

An adapter is a small module per framework (``peers/dramatiq.py``, ``peers/pgqueuer.py``, ...)
with what the harness needs: whether the framework is installed, enqueue one by one (and in
batches where it has a batch call), the worker command line, and cleanup. What the worker
imports lives in ``peers/apps/``. queuekit itself is one more adapter, so every framework
goes through the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Protocol

# What a peer's worker reads from its environment (never the command line: URLs carry credentials).
URL_ENV = "QKBENCH_PEER_URL"
QUEUE_ENV = "QKBENCH_PEER_QUEUE"
PORT_ENV = "QKBENCH_PEER_PORT"
PREFIX_ENV = "QKBENCH_PEER_PREFIX"


@dataclass(frozen=True)
class Workload:
    """One run of the peer workload: where the jobs go and where completions are signalled."""

    url: str  # the broker URL of the bench target (the peer's adapter turns it into its own form)
    queue: str  # a fresh queue name; adapters use it as queue, entrypoint or key as they need
    port: int  # the UDP port the harness listens on
    prefix: str  # a prefix for anything else the peer creates (tables, key namespaces)

    def env(self) -> dict[str, str]:
        """The worker's environment additions."""
        return {URL_ENV: self.url, QUEUE_ENV: self.queue, PORT_ENV: str(self.port), PREFIX_ENV: self.prefix}


class Peer(Protocol):
    """One framework's adapter."""

    name: str  # as shown in the report: "dramatiq"
    dist: str  # the distribution whose version is reported
    schemes: tuple[str, ...]  # broker URL schemes it runs on
    batch: bool  # True when it has a batch enqueue call (enqueue_batch)
    max_jobs: int | None  # a cap on the workload's job count for a framework too slow to drain it in time

    def missing(self) -> str | None:
        """Why it cannot run here (a one-line reason naming the fix), or None."""
        ...

    def setup(self, work: Workload) -> None:
        """Create what the run needs (tables, queues), outside any timing."""
        ...

    def enqueue(self, work: Workload, count: int) -> None:
        """Enqueue ``count`` no-op jobs one call at a time."""
        ...

    def enqueue_batch(self, work: Workload, count: int, size: int) -> None:
        """Enqueue ``count`` no-op jobs with the framework's batch call, ``size`` at a time."""
        ...

    def command(self, work: Workload) -> Sequence[str]:
        """The worker's command line: the framework's own CLI at its defaults, one process."""
        ...

    def env(self, work: Workload) -> dict[str, str]:
        """Environment the worker needs beyond :meth:`Workload.env` (the framework's own variables)."""
        ...

    def teardown(self, work: Workload) -> None:
        """Remove what the run created."""
        ...


def installed(modules: Sequence[str], dist: str, extra: str = "peers") -> str | None:
    """None when every module imports; else the skip reason with the install command."""
    for module in modules:
        try:
            import_module(module)
        except ImportError:
            return f"{dist} is not installed: pip install \"queuekit[{extra}]\""
    return None


def dist_version(dist: str) -> str:
    """``dramatiq 2.2.1`` (or just the name when the version is unknown)."""
    try:
        return f"{dist} {version(dist)}"
    except PackageNotFoundError:
        return dist

