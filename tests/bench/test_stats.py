"""Percentile math, summaries and ratios to the raw client."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st
from queuekit_bench.stats import (
    latency_summary,
    paired_ratios,
    percentile,
    quantile_curve,
    rank_test,
    rate,
    smallest_p,
    summarize,
)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
samples = st.lists(finite, min_size=1, max_size=60)


@given(samples)
def test_percentile_ends_are_min_and_max(values: list[float]) -> None:
    assert percentile(values, 0) == min(values)
    assert percentile(values, 100) == max(values)


@given(st.lists(finite, min_size=2, max_size=60))
def test_percentile_matches_statistics_inclusive_quantiles(values: list[float]) -> None:
    quartiles = statistics.quantiles(values, n=4, method="inclusive")
    for q, expected in zip((25, 50, 75), quartiles, strict=True):
        assert percentile(values, q) == pytest.approx(expected, rel=1e-9, abs=1e-6)


@given(samples, st.floats(0, 100), st.floats(0, 100))
def test_percentile_is_monotonic_in_q(values: list[float], a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert percentile(values, low) <= percentile(values, high) + 1e-9


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == pytest.approx(9.1)


@pytest.mark.parametrize("q", [-1, 100.5, math.nan])
def test_percentile_rejects_out_of_range(q: float) -> None:
    with pytest.raises(ValueError, match=r"within 0\.\.100"):
        percentile([1.0], q)


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)


def test_latency_summary_has_the_reported_percentiles() -> None:
    summary = latency_summary([float(v) for v in range(1, 101)])
    assert summary["count"] == 100
    assert summary["p50"] == pytest.approx(50.5)
    assert summary["p99"] == pytest.approx(99.01)
    assert summary["max"] == 100
    assert latency_summary([]) == {"count": 0}


def test_quantile_curve_runs_from_min_to_max() -> None:
    curve = quantile_curve([5.0, 1.0, 3.0], points=5)
    assert curve[0] == 1.0 and curve[-1] == 5.0 and curve == sorted(curve) and len(curve) == 5


@given(samples)
def test_summary_median_lies_within_the_spread(values: list[float]) -> None:
    summary = summarize(values)
    assert summary.low <= summary.median <= summary.high
    assert summary.noise >= 0


def test_summary_noise_is_relative_half_range() -> None:
    assert summarize([90.0, 100.0, 110.0]).noise == pytest.approx(0.1)
    assert summarize([100.0]).noise == 0.0


def test_ratios_read_as_share_of_raw_for_rates_and_costs() -> None:
    assert paired_ratios([50.0, 30.0], [100.0, 60.0], "higher") == [0.5, 0.5]
    # a cost of 4 us where the raw client needs 1 us: a quarter of its speed
    assert paired_ratios([4.0], [1.0], "lower") == [0.25]


def test_ratios_need_paired_runs() -> None:
    with pytest.raises(ValueError, match="cannot pair"):
        paired_ratios([1.0, 2.0], [1.0], "higher")


def test_rate_handles_degenerate_durations() -> None:
    assert rate(10, 2.0) == 5.0
    assert rate(10, math.inf) == 0.0
    assert rate(10, 0.0) > 0


def test_rank_test_exact_values_for_three_runs_a_side() -> None:
    # U for 3 against 3 without ties takes 0..9 with counts 1,1,2,3,3,3,3,2,1,1 over 20 splits
    assert rank_test([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) == pytest.approx(1 / 20)
    assert rank_test([1.0, 2.0, 4.0], [3.0, 5.0, 6.0]) == pytest.approx(2 / 20)
    assert rank_test([4.0, 5.0, 6.0], [1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert rank_test([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]) == pytest.approx(1.0)  # all tied: nothing to see
    assert smallest_p(3, 3) == pytest.approx(0.05) and smallest_p(2, 2) > 0.05


def test_rank_test_large_samples_use_the_normal_approximation() -> None:
    rng = random.Random(5)
    same = rank_test([rng.gauss(0, 1) for _ in range(60)], [rng.gauss(0, 1) for _ in range(60)])
    shifted = rank_test([rng.gauss(0, 1) for _ in range(60)], [rng.gauss(1, 1) for _ in range(60)])
    assert same > 0.05 and shifted < 0.001


@given(st.lists(finite, min_size=1, max_size=80), st.integers(2, 60))
def test_quantile_curve_sorting_once_gives_the_same_points(values: list[float], points: int) -> None:
    expected = [percentile(values, 100.0 * i / (points - 1)) for i in range(points)]
    assert quantile_curve(values, points) == expected  # identical, not approximately


@given(st.lists(finite, min_size=1, max_size=80))
def test_latency_summary_sorting_once_gives_the_same_percentiles(values: list[float]) -> None:
    summary = latency_summary(values)
    for q in (50, 90, 99):
        assert summary[f"p{q}"] == percentile(values, q)
    assert summary["max"] == max(values)


def test_quantile_curve_of_a_large_sample_matches_the_reference() -> None:
    rng = random.Random(3)
    values = [rng.lognormvariate(0, 1) for _ in range(20_000)]
    assert quantile_curve(values) == [percentile(values, 2.0 * i) for i in range(51)]
