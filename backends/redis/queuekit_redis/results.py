"""The result store: one string key per job, expiring with Redis's own TTL."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

from queuekit.broker import Outcome
from queuekit.outcomes import outcome_from_bytes, outcome_to_bytes
from queuekit_redis.connection import Connection

CHUNK = 1000


def save(conn: Connection, outcomes: Sequence[Outcome], ttl: float) -> None:
    """SET ... PX for each outcome in one script call per 1,000; newer replaces older."""
    if not outcomes:
        return
    millis = max(1, math.ceil(ttl * 1000))
    if conn.cluster:  # one key per slot: a pipeline the cluster client splits by node
        conn.retrying(functools.partial(conn.run, functools.partial(_pipelined, outcomes, millis, conn)))
        return
    for start in range(0, len(outcomes), CHUNK):
        chunk = outcomes[start : start + CHUNK]
        keys = [conn.keys.result(outcome.job_id) for outcome in chunk]
        args: list[object] = [millis, *(outcome_to_bytes(outcome) for outcome in chunk)]
        conn.retrying(functools.partial(conn.script, "save_results", keys, args))


def load(conn: Connection, job_id: str) -> Outcome | None:
    """The stored outcome, or None if none is stored or it expired."""
    raw = conn.retrying(lambda: conn.run(lambda client: client.get(conn.keys.result(job_id))))
    return None if raw is None else outcome_from_bytes(raw)


def _pipelined(outcomes: Sequence[Outcome], millis: int, conn: Connection, client: Any) -> None:
    pipe = client.pipeline(transaction=False)
    for outcome in outcomes:
        pipe.set(conn.keys.result(outcome.job_id), outcome_to_bytes(outcome), px=millis)
    pipe.execute()
