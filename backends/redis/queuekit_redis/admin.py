"""Inspection and administration: stats, purge, dead letters, job state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from queuekit.broker import DeadLetter, JobStatus, QueueStats, WaitingJob
from queuekit_redis.connection import Call, Connection
from queuekit_redis.epochs import Epochs
from queuekit_redis.keys import SUFFIXES

CHUNK = 1000
_STATES = {b"running": JobStatus.RUNNING, b"queued": JobStatus.QUEUED, b"dead": JobStatus.DEAD}


def _run_all(conn: Connection, calls: Sequence[Call]) -> list[Any]:
    """One script call per queue, all in one round trip."""
    if not calls:
        return []
    if len(calls) == 1:
        return [conn.script(*calls[0])]
    return conn.pipeline(calls, transaction=False)


def known_queues(conn: Connection) -> list[str]:
    """Every queue name ever used under this prefix, sorted."""
    members: set[Any] = conn.run(lambda client: client.smembers(conn.keys.registry))
    return sorted(member.decode() for member in members)


def stats(conn: Connection, epochs: Epochs, queues: Sequence[str] | None) -> dict[str, QueueStats]:
    """Depth of each queue by state; due delayed jobs and expired leases count as ready."""
    names = known_queues(conn) if queues is None else list(queues)
    replies = _run_all(conn, [conn.on("stats", name, ()) for name in names])
    found: dict[str, QueueStats] = {}
    for name, (ready, delayed, in_flight, dead) in zip(names, replies, strict=True):
        found[name] = QueueStats(int(ready), int(delayed), int(in_flight), int(dead))
        epochs.backlog[name] = int(ready) + int(delayed) + int(in_flight)
    return found


def purge(conn: Connection, queue: str) -> int:
    """Delete ready, delayed and lease-expired jobs, a chunk per script call."""
    total = 0
    while True:
        count = int(conn.call("purge", queue, (CHUNK,)))
        total += count
        if count < CHUNK:
            return total


def delete_queue(conn: Connection, epochs: Epochs, queue: str) -> None:
    """Delete every key of a queue (one slot: one command, cluster-safe), then its registry entry."""
    keys = conn.keys.queue(queue)
    names = [keys.key(suffix) for suffix in SUFFIXES]
    conn.run(lambda client: client.delete(*names))
    conn.run(lambda client: client.srem(conn.keys.registry, queue))
    epochs.forget(queue)


def dead_letters(conn: Connection, queue: str, limit: int) -> list[DeadLetter]:
    """The oldest ``limit`` dead letters, with reason, attempts and time of death."""
    if limit < 1:
        return []
    reply = conn.call("dead_list", queue, (limit,))
    letters = []
    for i in range(0, len(reply), 3):
        job_id, body, info = reply[i : i + 3]
        attempts, dead_ms, _score, reason = info.decode().split("|", 3)
        letters.append(DeadLetter(job_id.decode(), queue, body, reason, int(attempts), int(dead_ms) / 1000))
    return letters


def waiting(conn: Connection, queue: str, delayed: bool, limit: int) -> list[WaitingJob]:
    """Ready jobs in reserve order, or delayed ones soonest due first (one script call, nothing taken)."""
    if limit < 1:
        return []
    reply = conn.call("waiting", queue, ("delayed" if delayed else "ready", limit))
    jobs = []
    for i in range(0, len(reply), 4):
        job_id, body, meta, due = reply[i : i + 4]
        attempts, _receipt, score, _key = (meta.decode() or "0||0|").split("|", 3)
        jobs.append(WaitingJob(job_id.decode(), queue, body, -int(float(score or 0)), int(attempts or 0),
                               int(due) / 1000 if due else None))
    return jobs


def requeue_dead(conn: Connection, queue: str, ids: Sequence[str] | None) -> int:
    """Move dead letters back to ready (priority kept, attempts reset, old results deleted)."""
    dead = conn.keys.queue(queue).key("dead")
    if ids is None:
        members: list[Any] = conn.run(lambda client: client.zrange(dead, 0, -1))
        chosen = [member.decode() for member in members]
    else:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return 0
        scores = conn.run(lambda client: client.zmscore(dead, wanted))
        chosen = [job_id for job_id, score in zip(wanted, scores, strict=True) if score is not None]
    if not chosen:
        return 0
    _delete_results(conn, chosen)
    return sum(
        int(conn.call("requeue_dead", queue, chosen[i : i + CHUNK])) for i in range(0, len(chosen), CHUNK)
    )


def _delete_results(conn: Connection, ids: Sequence[str]) -> None:
    """A requeued job starts afresh: forget its old outcome (one key per command: cluster-safe)."""

    def delete(client: redis.Redis) -> None:
        pipe = client.pipeline(transaction=False)
        for job_id in ids:
            pipe.delete(conn.keys.result(job_id))
        pipe.execute()

    conn.run(delete)


def purge_dead(conn: Connection, queue: str) -> int:
    """Delete a queue's dead letters."""
    return int(conn.call("purge_dead", queue, ()))


def state(conn: Connection, job_id: str) -> JobStatus | None:
    """Ask every known queue about the job: live states win over dead."""

    def ask() -> JobStatus | None:
        names = known_queues(conn)
        replies = _run_all(conn, [conn.on("state", name, (job_id,)) for name in names])
        found = {_STATES[reply] for reply in replies if reply is not None}
        for status in (JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.DEAD):
            if status in found:
                return status
        return None

    return conn.retrying(ask)
