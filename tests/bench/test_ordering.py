"""Inversion counting for FIFO and priorities."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st
from queuekit_bench.ordering import count_descents, count_inversions, fifo_inversions, priority_inversions


def brute_inversions(values: list[int]) -> int:
    return sum(1 for i, j in itertools.combinations(range(len(values)), 2) if values[i] > values[j])


@given(st.lists(st.integers(-50, 50), max_size=80))
def test_merge_count_equals_brute_force(values: list[int]) -> None:
    assert count_inversions(values) == brute_inversions(values)


def test_known_counts() -> None:
    assert count_inversions([1, 2, 3]) == 0
    assert count_inversions([3, 2, 1]) == 3
    assert count_inversions([2, 1, 2, 1]) == 3
    assert count_descents([1, 3, 2, 4, 0]) == 2


@given(st.lists(st.sampled_from("abcd"), max_size=80))
def test_any_interleaving_of_ordered_producers_has_no_fifo_inversion(schedule: list[str]) -> None:
    counters: dict[str, int] = {}
    started = []
    for producer in schedule:
        started.append((producer, counters.get(producer, 0)))
        counters[producer] = counters.get(producer, 0) + 1
    report = fifo_inversions(started)
    assert report.inversions == 0 and report.descents == 0 and report.jobs == len(schedule)


def test_fifo_counts_only_within_a_producer() -> None:
    started = [("a", 1), ("b", 0), ("a", 0), ("b", 1)]  # a is swapped, b is not
    report = fifo_inversions(started)
    assert (report.inversions, report.descents) == (1, 1)


def test_priority_inversions_count_lower_before_higher() -> None:
    assert priority_inversions([9, 5, 5, 0]).inversions == 0
    assert priority_inversions([0, 9]).inversions == 1
    assert priority_inversions([5, 5, 5]).inversions == 0  # ties never count
    assert priority_inversions([1, 2, 3]).as_dict() == {"jobs": 3, "inversions": 3, "descents": 2}
