"""The result store: one string key per job, expiring with Redis's own TTL."""

from __future__ import annotations

import math
from collections.abc import Sequence

import redis

from queuekit.broker import Outcome
from queuekit.outcomes import outcome_from_bytes, outcome_to_bytes
from queuekit_redis.connection import Connection


def save(conn: Connection, outcomes: Sequence[Outcome], ttl: float) -> None:
    """SET ... PX for each outcome, pipelined; newer replaces older."""
    if not outcomes:
        return
    millis = max(1, math.ceil(ttl * 1000))
    encoded = [(conn.keys.result(outcome.job_id), outcome_to_bytes(outcome)) for outcome in outcomes]

    def write(client: redis.Redis) -> None:
        pipe = client.pipeline(transaction=False)
        for key, value in encoded:
            pipe.set(key, value, px=millis)
        pipe.execute()

    conn.retrying(lambda: conn.run(write))


def load(conn: Connection, job_id: str) -> Outcome | None:
    """The stored outcome, or None if none is stored or it expired."""
    raw = conn.retrying(lambda: conn.run(lambda client: client.get(conn.keys.result(job_id))))
    return None if raw is None else outcome_from_bytes(raw)
