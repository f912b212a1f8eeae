"""Counting order violations: FIFO inversions per producer and priority inversions.

An *inversion* is a pair of jobs run in the opposite order to the one promised: for
FIFO, job j started before job i although i was enqueued first by the same producer;
for priorities, a lower-priority job started before a higher-priority one that was
already waiting. A *descent* is an adjacent inversion (a place where the sequence
steps back), which is easier to read when concurrency makes pair counts large.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def count_inversions(sequence: Sequence[int]) -> int:
    """Pairs (i < j) with ``sequence[i] > sequence[j]``, in O(n log n) by merge sort."""
    items = list(sequence)
    return _sort_count(items)[1]


def _sort_count(items: list[int]) -> tuple[list[int], int]:
    if len(items) <= 1:
        return items, 0
    middle = len(items) // 2
    left, left_count = _sort_count(items[:middle])
    right, right_count = _sort_count(items[middle:])
    merged: list[int] = []
    count = left_count + right_count
    i = j = 0
    while i < len(left) and j < len(right):
        if right[j] < left[i]:
            merged.append(right[j])
            count += len(left) - i  # every remaining left item is greater than right[j]
            j += 1
        else:
            merged.append(left[i])
            i += 1
    merged.extend(left[i:])
    merged.extend(right[j:])
    return merged, count


def count_descents(sequence: Sequence[int]) -> int:
    """Adjacent positions where the sequence steps back."""
    return sum(1 for a, b in itertools.pairwise(sequence) if a > b)


@dataclass(frozen=True)
class OrderReport:
    """Inversions and descents over the jobs compared."""

    jobs: int
    inversions: int
    descents: int

    def as_dict(self) -> dict[str, int]:
        """JSON form."""
        return {"jobs": self.jobs, "inversions": self.inversions, "descents": self.descents}


def fifo_inversions(started: Iterable[tuple[str, int]]) -> OrderReport:
    """Per-producer FIFO violations from (producer, sequence number) in start order.

    Jobs of different producers are never compared: only one producer's own order is
    promised. Counts are summed over producers.
    """
    by_producer: dict[str, list[int]] = {}
    total = 0
    for producer, seq in started:
        by_producer.setdefault(producer, []).append(seq)
        total += 1
    inversions = sum(count_inversions(seqs) for seqs in by_producer.values())
    descents = sum(count_descents(seqs) for seqs in by_producer.values())
    return OrderReport(total, inversions, descents)


def priority_inversions(priorities_in_start_order: Sequence[int]) -> OrderReport:
    """Violations of "higher priority first" when every job was waiting before the drain.

    A pair counts when a job started before one of strictly higher priority; equal
    priorities never count.
    """
    negated = [-p for p in priorities_in_start_order]  # promised order: non-decreasing
    return OrderReport(len(negated), count_inversions(negated), count_descents(negated))
