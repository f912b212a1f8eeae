"""The backends the fault suite runs against, each isolated for one test.

Every target has a queue name of its own and, on shared servers, a table prefix
(SQL) or key prefix (Redis) of its own; RabbitMQ queues are deleted afterwards. A
server that does not answer skips the test with "service unavailable: ..." (the
probes live beside each backend's own tests and are reused here).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

KINDS = ("sqlite", "postgresql", "mariadb", "redis", "rabbitmq")


def target_params() -> list[object]:
    """One pytest param per backend; the server ones carry the ``service`` mark."""
    return [
        pytest.param(kind, id=kind, marks=() if kind == "sqlite" else pytest.mark.service) for kind in KINDS
    ]


@dataclass
class Target:
    """One backend, isolated for one test: its URL, queue, result store and cleanup."""

    kind: str
    url: str
    queue: str
    results: str | None = None  # a separate result store, for brokers that keep no results
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def cleanup(self) -> None:
        """Remove everything the test left on the server."""
        for step in reversed(self.cleanups):
            step()
        self.cleanups.clear()


def unique_queue() -> str:
    """A queue name no other test run uses."""
    return f"qkf-{uuid.uuid4().hex[:10]}"


def open_target(kind: str, tmp_path: Path) -> Target:
    """An isolated target of ``kind``; skips when its server does not answer."""
    queue = unique_queue()
    if kind == "sqlite":
        return Target(kind, f"sqlite:///{tmp_path / 'faults.db'}", queue)
    if kind in ("postgresql", "mariadb"):
        from tests.sql.servers import drop_prefix, unique_prefix, url_or_skip, with_prefix

        prefix = unique_prefix()
        made = Target(kind, with_prefix(url_or_skip(kind), prefix), queue)
        made.cleanups.append(lambda: drop_prefix(kind, prefix))
        return made
    if kind == "redis":
        from tests.redis.servers import delete_prefix, shared_url_or_skip, unique_prefix

        shared, prefix = shared_url_or_skip(), unique_prefix()
        made = Target(kind, f"{shared}?prefix={prefix}", queue)
        made.cleanups.append(lambda: delete_prefix(shared, prefix))
        return made
    if kind == "rabbitmq":
        from tests.rabbitmq.servers import delete_queues, shared_url_or_skip

        # RabbitMQ keeps no results: outcomes (tracebacks) go to a SQLite file of the test's own.
        made = Target(kind, shared_url_or_skip(), queue, results=f"sqlite:///{tmp_path / 'results.db'}")
        made.cleanups.append(lambda: delete_queues([queue]))
        return made
    raise ValueError(f"unknown fault target {kind!r}; known: {', '.join(KINDS)}")
