"""RQ's side of the peer workload: ``rq worker <queue>`` imports :func:`ping` by its dotted name."""

from __future__ import annotations

from queuekit_bench.peers.completions import notify


def ping() -> None:
    """Signal the completion."""
    notify()
