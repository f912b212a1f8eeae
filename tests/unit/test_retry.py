"""queuekit.retry: the one backoff rule, as a per-attempt delay and as a loop's pauses."""

from __future__ import annotations

import random

import pytest

from queuekit.retry import Backoff, backoff_delay


def test_delay_stays_in_the_upper_half_of_a_doubling_capped_ceiling() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (60, 3.0)]:
        for _ in range(200):
            assert ceiling / 2 <= backoff_delay(attempt, 0.5, 3.0, rng) <= ceiling


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="counts from 1"):
        backoff_delay(0, 1.0, 2.0)


def test_a_loop_without_jitter_doubles_to_the_cap_and_starts_over_after_reset() -> None:
    pauses = Backoff(0.1, 0.5, jitter=False)
    assert [pauses.next() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    assert pauses.failures == 5
    pauses.reset()
    assert pauses.failures == 0
    assert pauses.next() == 0.1


def test_a_jittered_loop_draws_from_the_same_ceilings() -> None:
    pauses = Backoff(1.0, 4.0, rng=random.Random(3))
    drawn = [pauses.next() for _ in range(4)]
    for got, ceiling in zip(drawn, [1.0, 2.0, 4.0, 4.0], strict=True):
        assert ceiling / 2 <= got <= ceiling


def test_base_above_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="base <= cap"):
        Backoff(2.0, 1.0)
