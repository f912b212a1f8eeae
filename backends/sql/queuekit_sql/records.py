"""The rows the broker reads, one named tuple per shape: fields are the statement's column names.

:func:`queuekit_sql.base.rows` checks the columns a statement returns against the fields
the first time it runs, so a column added, dropped or moved in a ``.sql`` block fails at
once instead of being read as another.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Claimed(NamedTuple):
    """A job just leased (claim's RETURNING)."""

    id: str
    queue: str
    body: Any
    attempts: int
    priority: int
    due: float
    pk: int


class Picked(NamedTuple):
    """A locked candidate of a two-step claim (MySQL's pick)."""

    pk: int
    id: str
    queue: str
    body: Any
    attempts: int
    priority: int
    eff: float


class Held(NamedTuple):
    """A held job about to be dead-lettered (take_held)."""

    pk: int
    id: str
    queue: str
    priority: int
    body: Any
    attempts: int
    receipt: str


class HeldId(NamedTuple):
    """A job whose lease is still held (still_held)."""

    id: str
    receipt: str


class KeyHolder(NamedTuple):
    """The job holding a dedup key."""

    dedup_key: str
    id: str


class Clock(NamedTuple):
    """The database clock."""

    clock: float


class Packet(NamedTuple):
    """MySQL's max_allowed_packet."""

    packet: int


class QueueCounts(NamedTuple):
    """Live jobs of one queue by state (stats)."""

    queue: str
    ready_jobs: Any
    delayed_jobs: Any
    leased_jobs: Any


class DeadCount(NamedTuple):
    """Dead letters of one queue."""

    queue: str
    dead_jobs: Any


class DeadRow(NamedTuple):
    """A dead letter as listed."""

    id: str
    queue: str
    body: Any
    reason: str
    attempts: Any
    dead_at: Any


class DeadTaken(NamedTuple):
    """A dead letter about to be requeued."""

    pk: int
    id: str
    queue: str
    priority: int
    body: Any


class WaitingRow(NamedTuple):
    """A waiting job as browsed."""

    id: str
    queue: str
    body: Any
    attempts: Any
    priority: Any
    wake_at: Any


class JobState(NamedTuple):
    """A live job's state, and whether its lease (or delay) runs yet."""

    state: str
    live: Any


class Dead(NamedTuple):
    """A dead letter exists."""

    dead: Any


class Stored(NamedTuple):
    """A stored outcome."""

    data: Any


class Value(NamedTuple):
    """A key-value entry's value."""

    v: Any


class Entry(NamedTuple):
    """A key-value entry."""

    k: str
    v: Any


class ValueExpiry(NamedTuple):
    """A key-value entry's value and expiry (a set's size row)."""

    v: Any
    expires_at: Any
